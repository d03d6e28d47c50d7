package node

import (
	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
)

// emit reports an event to the project's events hook (docs/protocol.md, Hooks), if it has
// one. It never blocks.
func (n *Node) emit(p *admin.Project, ev Event) {
	if n.opts.Events == nil || p == nil || (p.EventsHookURL == "" && n.opts.EventsNeedURL) {
		return
	}
	ev.Time = n.opts.Now().UnixMilli()
	n.opts.Events.Emit(p.ID, ev)
}

// occupancy reports channel_occupied and channel_vacated as this
// node sees them: a channel's first local subscriber and its last. With
// several nodes each node reports its own (documented in docs/protocol.md).
func (n *Node) occupancy(key string, occupied bool) {
	if n.opts.Events == nil {
		return
	}
	project, channel := pubsub.SplitKey(key)
	p, err := n.opts.Projects.Project(n.baseCtx, project)
	if err != nil {
		return
	}
	typ := EventChannelVacated
	if occupied {
		typ = EventChannelOccupied
	}
	n.emit(p, Event{Type: typ, Channel: channel})
}
