package node

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rotor-rt/rotor/pubsub"
)

// control is a message between nodes, sent with PublishControl.
type control struct {
	Op        string `json:"op"`
	Project   string `json:"project,omitempty"`
	User      string `json:"user,omitempty"`
	Client    string `json:"client,omitempty"`
	Key       string `json:"key,omitempty"`
	Code      int    `json:"code,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Reconnect bool   `json:"reconnect,omitempty"`
}

// Control operations.
const (
	opUnsubscribe = "unsubscribe"
	opDisconnect  = "disconnect"
	opStructure   = "structure"
)

// engineHandler is how the engine reaches the node: publications, join
// and leave from every node, reconnect notices and control messages. It
// is a type of its own so that these callbacks are not operations of the
// Node.
type engineHandler struct{ n *Node }

var _ pubsub.Handler = engineHandler{}
var _ pubsub.KeyResyncer = engineHandler{}

// HandlePublication implements pubsub.Handler.
func (h engineHandler) HandlePublication(key string, pub *pubsub.Publication) {
	n := h.n
	if err := n.hub.Publish(key, pub); err != nil {
		n.log.Error("deliver publication", "key", key, "err", err)
	}
}

// HandleJoin implements pubsub.Handler.
func (h engineHandler) HandleJoin(key string, info *pubsub.ClientInfo) {
	n := h.n
	if err := n.hub.PublishPresence(pubsub.EventJoin, key, info); err != nil {
		n.log.Error("deliver join", "key", key, "err", err)
	}
}

// HandleLeave implements pubsub.Handler.
func (h engineHandler) HandleLeave(key string, info *pubsub.ClientInfo) {
	n := h.n
	n.ghosts.forget(key, info.Client)
	if err := n.hub.PublishPresence(pubsub.EventLeave, key, info); err != nil {
		n.log.Error("deliver leave", "key", key, "err", err)
	}
}

// HandleReconnect implements pubsub.Handler: every stream checks its
// channels against history, as the backplane may have dropped messages.
func (h engineHandler) HandleReconnect() {
	n := h.n
	n.log.Info("engine reconnected: streams resync from history")
	n.hub.Resync()
}

// HandleResync implements pubsub.KeyResyncer: the streams holding keys
// check their channels against history (a Cluster slot moved).
func (h engineHandler) HandleResync(keys []string) {
	h.n.log.Info("engine moved channels: their streams resync from history", "channels", len(keys))
	h.n.hub.ResyncKeys(keys...)
}

// HandleControl implements pubsub.Handler.
func (h engineHandler) HandleControl(data []byte) {
	n := h.n
	var c control
	if err := json.Unmarshal(data, &c); err != nil {
		n.log.Error("malformed control message", "err", err)
		return
	}
	switch c.Op {
	case opUnsubscribe:
		if c.Client != "" {
			n.hub.UnsubscribeClient(c.Project, c.Client, c.Key)
		} else {
			n.hub.UnsubscribeUser(c.Project, c.User, c.Key)
		}
	case opDisconnect:
		n.hub.DisconnectUser(c.Project, c.User, &pubsub.Disconnect{Code: c.Code, Reason: c.Reason, Reconnect: c.Reconnect})
	case opStructure:
		n.keys.invalidate()
		if c, ok := n.opts.Projects.(projectCache); ok {
			c.Invalidate()
		}
	default:
		n.log.Warn("unknown control op", "op", c.Op)
	}
}

// projectCache is an optional ProjectStore capability: a store that
// caches projects (the SQLite store, the engine-backed structure) drops
// its cache when another node changes the structure. A store without a
// cache has nothing to drop.
type projectCache interface{ Invalidate() }

// sendControl publishes a control message to every node.
func (n *Node) sendControl(ctx context.Context, c control) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode control: %w", err)
	}
	if err := n.engine.PublishControl(ctx, b); err != nil {
		return fmt.Errorf("send control %s: %w", c.Op, err)
	}
	return nil
}

// NotifyStructureChanged tells every node that projects or namespaces
// changed, so they drop their caches (docs/admin.md, Several nodes:
// within a second).
func (n *Node) NotifyStructureChanged(ctx context.Context) error {
	return n.sendControl(ctx, control{Op: opStructure})
}
