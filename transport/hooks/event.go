package hooks

import "github.com/rotor-rt/rotor/pubsub/node"

// Event types sent to events_hook_url (docs/protocol.md, Hooks); the
// runtime declares them.
const (
	EventPublish         = node.EventPublish
	EventJoin            = node.EventJoin
	EventLeave           = node.EventLeave
	EventConnect         = node.EventConnect
	EventDisconnect      = node.EventDisconnect
	EventChannelOccupied = node.EventChannelOccupied
	EventChannelVacated  = node.EventChannelVacated
)

// Event and EventSink are declared by the runtime, which reports events;
// Dispatcher implements EventSink over HTTP.
type (
	Event     = node.Event
	EventSink = node.EventSink
)
