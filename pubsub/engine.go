package pubsub

import (
	"context"
	"encoding/json"
	"time"
)

// Engine is what a node needs from its engine (docs/scaling.md): a broker for
// publications and history, presence, and revocation marks. The memory
// engine serves one process; the Redis engine joins many.
//
// Engines are project-agnostic: every channel they see is a key made by
// Key(project, channel). Engines leave Publication.Channel empty; the hub
// and the transports fill it from the key.
//
// Errors caused by an unreachable backend wrap ErrEngineDown and must be
// returned promptly (never hang past the caller's context).
type Engine interface {
	Broker
	PresenceStore
	Revoker
	// Start begins delivering to h what is published on any node, for the
	// keys this node subscribed to, until ctx is done. It returns once the
	// engine is ready to publish (or with the reason it cannot start).
	Start(ctx context.Context, h Handler) error
}

// Handler receives what the engine delivers to this node. Calls for one key
// come one at a time and publications in offset order. Implementations
// must not block.
type Handler interface {
	HandlePublication(key string, pub *Publication)
	HandleJoin(key string, info *ClientInfo)
	HandleLeave(key string, info *ClientInfo)
	// HandleControl receives a message given to PublishControl on any node
	// (this one included).
	HandleControl(data []byte)
	// HandleReconnect tells the node that the engine lost and regained its
	// backplane: deliveries may have been missed for every key, and
	// streams must recover from history.
	HandleReconnect()
}

// KeyResyncer is an optional Handler capability: the engine may have
// missed deliveries for keys only (a Cluster slot moved to another
// master), and the streams holding them must recover from history. An
// engine calls HandleReconnect instead when the Handler lacks it.
type KeyResyncer interface {
	HandleResync(keys []string)
}

// PublishOptions says how a channel keeps history.
type PublishOptions struct {
	// HistorySize is how many publications to keep; 0 keeps none (the
	// offset still advances).
	HistorySize int
	// HistoryTTL is how long the history lives after the last publication;
	// 0 with HistorySize 0 means the stream's meta (offset, epoch) lives
	// for a default of 5m of inactivity.
	HistoryTTL time.Duration
	// Info is the publisher's info, when a client published.
	Info *ClientInfo
	// IdempotencyKey, when not empty, makes the publication happen at most
	// once per key and channel within IdempotencyWindow: a second Publish
	// with the same key to the same channel appends and delivers nothing
	// and returns the first one's position. The engine checks it in the
	// same atomic step as the append, so a publisher that retries after a
	// failure it cannot interpret (a timeout, ErrEngineDown) never
	// produces two publications. Callers bound it to MaxIdempotencyKey
	// bytes (the server API refuses longer keys).
	IdempotencyKey string
	// IdempotencyWindow is how long a key is remembered after the
	// publication it names; 0 means DefaultIdempotencyWindow.
	IdempotencyWindow time.Duration
}

// DefaultIdempotencyWindow is PublishOptions.IdempotencyWindow's zero
// value: long enough to cover a publisher's retries through an outage of
// its engine, short enough that remembered keys cost little.
const DefaultIdempotencyWindow = 5 * time.Minute

// MaxIdempotencyKey is the longest idempotency key, in bytes.
const MaxIdempotencyKey = 128

// IdempotencyWindowOrDefault returns the window to apply:
// o.IdempotencyWindow, or DefaultIdempotencyWindow when it is not
// positive.
func (o PublishOptions) IdempotencyWindowOrDefault() time.Duration {
	if o.IdempotencyWindow > 0 {
		return o.IdempotencyWindow
	}
	return DefaultIdempotencyWindow
}

// HistoryRequest selects publications from a channel's history.
//
//   - Since nil, Reverse false: the newest Limit, oldest first.
//   - Since nil, Reverse true: the newest Limit, newest first.
//   - Since set, Reverse false: the first Limit with offset > Since.Offset,
//     oldest first (whatever Since.Epoch is; callers compare epochs).
//   - Since set, Reverse true: the first Limit with offset < Since.Offset,
//     newest first.
//
// Limit 0 returns no publications (only the position); a negative Limit
// returns all that match.
type HistoryRequest struct {
	Since   *Position
	Limit   int
	Reverse bool
}

// HistoryResult is a slice of history and the channel's current position
// (its epoch and the offset of its last publication, 0 if none).
type HistoryResult struct {
	Publications []*Publication
	Position     Position
}

// Broker publishes and keeps history.
type Broker interface {
	// Publish assigns the next offset, appends to history (trimmed to
	// HistorySize, expiring after HistoryTTL) and delivers to every node
	// subscribed to key, as one atomic step. It returns the publication's
	// position. Empty data is kept as JSON null.
	Publish(ctx context.Context, key string, data json.RawMessage, opts PublishOptions) (Position, error)
	// PublishJoin and PublishLeave deliver join/leave events to every node
	// subscribed to key. They are not kept in history.
	PublishJoin(ctx context.Context, key string, info *ClientInfo) error
	PublishLeave(ctx context.Context, key string, info *ClientInfo) error
	// PublishControl delivers data to HandleControl on every node.
	PublishControl(ctx context.Context, data []byte) error
	// History reads history; see HistoryRequest. A channel never published
	// to gets a fresh epoch and offset 0.
	History(ctx context.Context, key string, req HistoryRequest) (HistoryResult, error)
	// RemoveHistory drops a channel's publications (offset and epoch stay).
	RemoveHistory(ctx context.Context, key string) error
	// Subscribe and Unsubscribe start and stop delivery of keys to this
	// node's Handler. The hub calls them on the first local subscriber and
	// after the last one.
	Subscribe(ctx context.Context, keys ...string) error
	Unsubscribe(ctx context.Context, keys ...string) error
}

// PresenceStats counts a channel's present clients and distinct users.
type PresenceStats struct {
	Clients int `json:"clients"`
	Users   int `json:"users"`
}

// PresenceStore keeps who is in a channel, each entry expiring after its
// TTL unless added again (so a dead node leaves no ghost).
type PresenceStore interface {
	// AddPresence adds or refreshes info.Client for ttl; an empty client
	// id is an error.
	AddPresence(ctx context.Context, key string, info *ClientInfo, ttl time.Duration) error
	RemovePresence(ctx context.Context, key, client string) error
	Presence(ctx context.Context, key string) (map[string]*ClientInfo, error)
	PresenceStats(ctx context.Context, key string) (PresenceStats, error)
}

// Revoker keeps revocation marks: a session issued to a user before a mark
// is refused (docs/protocol.md, Server API: disconnect).
type Revoker interface {
	// Revoke marks every session of the user key issued before `before` as
	// revoked; the mark lives for ttl (the longest session lifetime).
	Revoke(ctx context.Context, userKey string, before time.Time, ttl time.Duration) error
	// RevokedBefore returns the user's mark, or the zero time if none.
	RevokedBefore(ctx context.Context, userKey string) (time.Time, error)
}

// NodeInfo describes one node for the `info` API (docs/protocol.md, Server API).
type NodeInfo struct {
	ID                 string  `json:"id"`
	Version            string  `json:"version"`
	Uptime             int64   `json:"uptime"`
	Clients            int     `json:"clients"`
	Subscriptions      int     `json:"subscriptions"`
	Channels           int     `json:"channels"`
	PublicationsPerSec float64 `json:"publications_per_s"`
}

// NodeDirectory is an optional engine capability: engines that join nodes
// share each node's info. Without it, a node knows only itself. Nothing
// probes an engine for it: cmd/rotor gives it to the node as an option,
// and pubsub/enginetest checks that engines declaring it implement it.
type NodeDirectory interface {
	UpdateNode(ctx context.Context, info NodeInfo, ttl time.Duration) error
	Nodes(ctx context.Context) ([]NodeInfo, error)
}

// ChannelLister is an optional engine capability (given to the node as an
// option, like NodeDirectory): the active channels of
// every node, with their subscriber counts, for keys matching the glob
// pattern (path.Match syntax, over the whole key). Without it, a node lists
// its own channels.
type ChannelLister interface {
	Channels(ctx context.Context, pattern string) (map[string]int, error)
}

// ChannelCountReporter is the other half of ChannelLister: the node reports
// its local channel counts periodically so other nodes can list them.
type ChannelCountReporter interface {
	ReportChannels(ctx context.Context, nodeID string, counts map[string]int, ttl time.Duration) error
}

// HealthChecker is an optional engine capability: cmd/rotor's /readyz
// check, named at wiring.
type HealthChecker interface {
	Ready(ctx context.Context) error
}
