package node

import (
	"context"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// events reports what happens to the app's events hook (docs/protocol.md,
// Hooks).
type events struct {
	sink EventSink
	// needURL: skip projects with no events_hook_url (Options.EventsNeedURL).
	needURL  bool
	now      func() time.Time
	projects ProjectStore
	// ctx bounds project lookups; it ends when the node stops.
	ctx context.Context
}

// emit reports an event to the project's events hook, if it has one. It
// never blocks.
func (e *events) emit(p *structure.Project, ev Event) {
	if e.sink == nil || p == nil || (p.EventsHookURL == "" && e.needURL) {
		return
	}
	ev.Time = e.now().UnixMilli()
	e.sink.Emit(p.ID, ev)
}

// occupancy reports channel_occupied and channel_vacated as this
// node sees them: a channel's first local subscriber and its last. With
// several nodes each node reports its own (documented in docs/protocol.md).
func (e *events) occupancy(key string, occupied bool) {
	if e.sink == nil {
		return
	}
	project, channel := pubsub.SplitKey(key)
	p, err := e.projects.Project(e.ctx, project)
	if err != nil {
		return
	}
	typ := EventChannelVacated
	if occupied {
		typ = EventChannelOccupied
	}
	e.emit(p, Event{Type: typ, Channel: channel})
}
