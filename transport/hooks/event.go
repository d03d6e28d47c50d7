package hooks

import "encoding/json"

// Event types sent to events_hook_url (docs/protocol.md, Hooks).
const (
	EventPublish         = "publish"
	EventJoin            = "join"
	EventLeave           = "leave"
	EventConnect         = "connect"
	EventDisconnect      = "disconnect"
	EventChannelOccupied = "channel_occupied"
	EventChannelVacated  = "channel_vacated"
)

// Event is one thing that happened in a project, reported after the fact.
type Event struct {
	Type string `json:"type"`
	// Time is when it happened, in unix milliseconds.
	Time    int64           `json:"time"`
	Channel string          `json:"channel,omitempty"`
	Client  string          `json:"client,omitempty"`
	User    string          `json:"user,omitempty"`
	Info    json.RawMessage `json:"info,omitempty"`
	Data    json.RawMessage `json:"data,omitempty"`
	// Offset is a publication's offset; offsets start at 1, so 0 is none.
	Offset uint64 `json:"offset,omitempty"`
}

// EventSink receives events. Emit never blocks: a sink that cannot keep up
// drops events rather than slow down the server.
type EventSink interface {
	Emit(project string, ev Event)
}
