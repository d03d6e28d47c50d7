package node

import (
	"context"
	"encoding/json"
)

// The hooks below are what the node needs from the app's own endpoints;
// the HTTP implementations live in transport/hooks and are given to New.

// Authorizer decides on private channels for one client (docs/protocol.md, Private channels).
type Authorizer interface {
	// Authorize answers for every channel of req at once. The map has an
	// entry for each requested channel; a channel it cannot decide on is
	// denied. The error only explains denials for logs: callers deny on
	// error and go by the map.
	Authorize(ctx context.Context, req AuthRequest) (map[string]AuthResult, error)
}

// AuthRequest asks auth_url about several channels of one client.
type AuthRequest struct {
	URL    string
	Secret []byte
	Client string
	User   string
	// Channels are the whole channel names as the client wrote them.
	Channels []string
}

// AuthResult is the answer for one channel.
type AuthResult struct {
	Allow bool
	// Info becomes the client's chan_info in that channel, or nil.
	Info json.RawMessage
}

// PublishHook sees a client's publication before it is made (docs/protocol.md, Hooks).
type PublishHook interface {
	// BeforePublish passes, replaces or cancels a publication. An error
	// means the hook failed: the caller refuses the publication with
	// code 100 (fail closed).
	BeforePublish(ctx context.Context, req PublishHookRequest) (PublishHookResult, error)
}

// PublishHookRequest is one client publication for publish_hook_url.
type PublishHookRequest struct {
	URL     string
	Secret  []byte
	Channel string
	Data    json.RawMessage
	Client  string
	User    string
}

// PublishHookResult is the hook's decision.
type PublishHookResult struct {
	// Data replaces the publication's data; nil leaves it unchanged.
	Data json.RawMessage
	// Cancel drops the publication; the client gets 103 with Reason.
	Cancel bool
	Reason string
}

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
