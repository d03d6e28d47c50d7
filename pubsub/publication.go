// Package pubsub is Rotor's core: channels, publications, positions, the
// engine interfaces, and the hub that fans publications out to the streams
// of this node. It never imports net/http: transports adapt HTTP to it.
package pubsub

import (
	"encoding/json"
	"strings"
)

// ClientInfo describes a connected client in presence and join/leave events.
type ClientInfo struct {
	Client string `json:"client"`
	User   string `json:"user"`
	// Info is public connection info from the connection token.
	Info json.RawMessage `json:"info,omitempty"`
	// ChanInfo is per-channel info from the auth answer or subscription token.
	ChanInfo json.RawMessage `json:"chan_info,omitempty"`
}

// Publication is one message in a channel (docs/protocol.md, Concepts).
type Publication struct {
	// Channel is the client-visible channel name (no project prefix).
	Channel string          `json:"channel"`
	Offset  uint64          `json:"offset"`
	Data    json.RawMessage `json:"data"`
	Info    *ClientInfo     `json:"info,omitempty"`
	// Epoch is the channel's epoch when the publication was made; it is
	// not part of the wire form of a publication.
	Epoch string `json:"-"`
}

// Position is a place in a channel's stream: its epoch and offset
// (docs/protocol.md, Concepts).
type Position struct {
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
}

// keySep separates the project from the channel in an engine key. Neither
// a project id nor a channel name may contain it.
const keySep = "|"

// Key returns the engine key of a project's channel. Engines and the hub
// are project-agnostic: every channel they see is a key.
func Key(project, channel string) string { return project + keySep + channel }

// SplitKey splits an engine key into project and channel.
func SplitKey(key string) (project, channel string) {
	project, channel, _ = strings.Cut(key, keySep)
	return project, channel
}
