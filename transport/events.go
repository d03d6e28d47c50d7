package transport

import (
	"context"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/hooks"
)

// emit reports an event to the project's events hook (docs/protocol.md, Hooks), if it has
// one. It never blocks.
func (n *Node) emit(p *admin.Project, ev hooks.Event) {
	if n.opts.Events == nil || p == nil || (p.EventsHookURL == "" && n.ownEvents) {
		return
	}
	ev.Time = n.opts.Now().UnixMilli()
	n.opts.Events.Emit(p.ID, ev)
}

// newEventsDispatcher builds the HTTP events hook, resolving each
// project's URL and secret when a batch is sent so settings changes apply.
func (n *Node) newEventsDispatcher() *hooks.Dispatcher {
	return hooks.NewDispatcher(hooks.DispatcherOptions{
		Resolve: func(ctx context.Context, project string) (string, []byte, bool) {
			p, err := n.opts.Projects.Project(ctx, project)
			if err != nil || p.EventsHookURL == "" {
				return "", nil, false
			}
			return p.EventsHookURL, []byte(p.Secret), true
		},
		Client:     hooks.NewHTTPClient(n.opts.HookTimeout),
		Retries:    n.opts.HookRetries,
		QueueBytes: n.opts.EventsQueueBytes,
		Observer:   hookObserver{eventsObserver{n.metrics}, n.ops},
		Logger:     n.opts.Logger.With("component", "events-hook"),
	})
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
	typ := hooks.EventChannelVacated
	if occupied {
		typ = hooks.EventChannelOccupied
	}
	n.emit(p, hooks.Event{Type: typ, Channel: channel})
}
