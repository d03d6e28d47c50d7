package node

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// APIParams holds the parameters of every server API method (docs/protocol.md,
// Server API).
type APIParams struct {
	// Project is required with the global admin key; with a project key
	// it may be given and must name the key's project.
	Project   string          `json:"project"`
	Channel   string          `json:"channel"`
	Channels  []string        `json:"channels"`
	Data      json.RawMessage `json:"data"`
	User      string          `json:"user"`
	Client    string          `json:"client"`
	Reconnect bool            `json:"reconnect"`
	Pattern   string          `json:"pattern"`
	Commands  []APICommand    `json:"commands"`
	// IdempotencyKey makes publish and broadcast happen at most once per
	// channel within the idempotency window (see checkIdempotencyKey).
	IdempotencyKey string `json:"idempotency_key"`
	HistoryParams
}

// APICommand is one command of `batch`.
type APICommand struct {
	Method string    `json:"method"`
	Params APIParams `json:"params"`
}

// APIReply is one answer of the API: a result or an error.
type APIReply struct {
	Result any           `json:"result,omitempty"`
	Error  *pubsub.Error `json:"error,omitempty"`
}

type apiMethod func(n *Node, ctx context.Context, p *structure.Project, params *APIParams) (any, *pubsub.Error)

var apiMethods map[string]apiMethod

func init() {
	apiMethods = map[string]apiMethod{
		"publish":        apiPublish,
		"broadcast":      apiBroadcast,
		"history":        apiHistory,
		"history_remove": apiHistoryRemove,
		"presence":       apiPresence,
		"presence_stats": apiPresenceStats,
		"channels":       apiChannels,
		"info":           apiInfo,
		"unsubscribe":    apiUnsubscribe,
		"disconnect":     apiDisconnect,
		"batch":          apiBatch,
	}
}

// APIProject authenticates an API key for project (the global admin key
// acts on the project named, a project key on its own project) and
// applies the key's rate. A request refused by the rate gets its project
// too, so the edge can count the refusal under it.
func (n *Node) APIProject(ctx context.Context, key, project string) (*structure.Project, *pubsub.Error) {
	var p *structure.Project
	if n.opts.AdminAPIKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(n.opts.AdminAPIKey)) == 1 {
		if project == "" {
			return nil, pubsub.Errorf(pubsub.CodeBadRequest, "project is required with the admin key")
		}
		var perr *pubsub.Error
		if p, perr = n.Project(ctx, project); perr != nil {
			return nil, perr
		}
	} else {
		var err error
		if p, err = n.keys.lookup(ctx, key); err != nil {
			if errors.Is(err, structure.ErrNotFound) {
				return nil, pubsub.Errorf(pubsub.CodeUnauthorized, "invalid API key")
			}
			n.log.ErrorContext(ctx, "API key lookup", "err", err)
			return nil, pubsub.ErrUnavailable
		}
		if project != "" && project != p.ID {
			return nil, pubsub.Errorf(pubsub.CodeUnauthorized, "API key is not for project %q", project)
		}
	}
	if perr := n.limits.AllowAPI(key); perr != nil {
		return p, perr
	}
	return p, nil
}

// API runs one server API method (docs/protocol.md, Server API) in
// project p; an unknown method is 104.
func (n *Node) API(ctx context.Context, p *structure.Project, method string, params *APIParams) (any, *pubsub.Error) {
	m, ok := apiMethods[method]
	if !ok {
		return nil, pubsub.Errorf(pubsub.CodeUnknownMethod, "unknown method %q", method)
	}
	return m(n, ctx, p, params)
}

// IsAPIMethod reports whether method is a server API method.
func IsAPIMethod(method string) bool {
	_, ok := apiMethods[method]
	return ok
}

func apiChannel(p *structure.Project, name string) (Ref, *pubsub.Error) {
	if name == "" {
		return Ref{}, pubsub.Errorf(pubsub.CodeBadRequest, "channel is required")
	}
	return resolve(p, name)
}

// PublishResult is the result of publish.
type PublishResult struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

func apiPublish(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	c, perr := apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if perr := checkIdempotencyKey(a.IdempotencyKey); perr != nil {
		return nil, perr
	}
	data, perr := CompactData(a.Data)
	if perr != nil {
		return nil, perr
	}
	pos, perr := n.PublishKeyed(ctx, c, data, a.IdempotencyKey)
	if perr != nil {
		return nil, perr
	}
	return PublishResult{Offset: pos.Offset, Epoch: pos.Epoch}, nil
}

// checkIdempotencyKey refuses a key longer than the engines remember; ""
// means none.
func checkIdempotencyKey(key string) *pubsub.Error {
	if len(key) > pubsub.MaxIdempotencyKey {
		return pubsub.Errorf(pubsub.CodeBadRequest, "idempotency_key is %d bytes, longer than %d", len(key), pubsub.MaxIdempotencyKey)
	}
	return nil
}

type broadcastItem struct {
	Channel string        `json:"channel"`
	Offset  uint64        `json:"offset,omitempty"`
	Epoch   string        `json:"epoch,omitempty"`
	Error   *pubsub.Error `json:"error,omitempty"`
}

func apiBroadcast(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	if len(a.Channels) == 0 {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "channels is required")
	}
	if perr := checkIdempotencyKey(a.IdempotencyKey); perr != nil {
		return nil, perr
	}
	data, perr := CompactData(a.Data)
	if perr != nil {
		return nil, perr
	}
	results := make([]broadcastItem, len(a.Channels))
	for i, name := range a.Channels {
		results[i].Channel = name
		c, perr := resolve(p, name)
		if perr == nil {
			var pos pubsub.Position
			pos, perr = n.PublishKeyed(ctx, c, data, a.IdempotencyKey)
			results[i].Offset, results[i].Epoch = pos.Offset, pos.Epoch
		}
		results[i].Error = perr
	}
	return map[string]any{"results": results}, nil
}

func apiHistory(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	c, perr := apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	return n.history(ctx, c, a.HistoryParams)
}

func apiHistoryRemove(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	c, perr := apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if err := n.engine.RemoveHistory(ctx, c.key); err != nil {
		return nil, pubsub.AsError(err)
	}
	return struct{}{}, nil
}

func apiPresence(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	c, perr := apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	clients, perr := presenceOf(n.presenceClients(ctx, c))
	if perr != nil {
		return nil, perr
	}
	return map[string]any{"clients": clients}, nil
}

func apiPresenceStats(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	c, perr := apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	return n.presenceStats(ctx, c)
}

func apiChannels(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	chans, perr := n.channels(ctx, p, a.Pattern)
	if perr != nil {
		return nil, perr
	}
	return map[string]any{"channels": chans}, nil
}

func apiInfo(n *Node, ctx context.Context, _ *structure.Project, _ *APIParams) (any, *pubsub.Error) {
	nodes, err := n.Nodes(ctx)
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	return map[string]any{"nodes": nodes}, nil
}

// apiUnsubscribe ends a user's subscription to a channel on every node and
// revokes the grants issued for it until now.
func apiUnsubscribe(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	c, perr := apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if a.User == "" {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "user is required")
	}
	op := n.metrics.ops.engineOp("revoke")
	err := n.engine.Revoke(ctx, grantRevocationKey(p.ID, a.User, c.ch.Full), n.opts.Now(), n.opts.SessionTTL)
	op.done(err)
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	if err := n.sendControl(ctx, control{Op: opUnsubscribe, Project: p.ID, User: a.User, Key: c.key}); err != nil {
		return nil, pubsub.AsError(err)
	}
	return struct{}{}, nil
}

// grantRevocationKey names the revocation mark of a user's grants in one
// channel.
func grantRevocationKey(project, user, channel string) string {
	return pubsub.Key(project, user) + "|" + channel
}

// apiDisconnect ends a user's streams on every node; without reconnect it
// also revokes the sessions issued until now (docs/protocol.md, Server API).
func apiDisconnect(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	if a.User == "" {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "user is required")
	}
	c := control{Op: opDisconnect, Project: p.ID, User: a.User}
	if a.Reconnect {
		c.Code, c.Reason, c.Reconnect = pubsub.DisconnectNormal, "disconnected by server", true
	} else {
		// Marks are kept to the millisecond; a session issued in this
		// same millisecond is refused too, which is the safe side.
		op := n.metrics.ops.engineOp("revoke")
		err := n.engine.Revoke(ctx, pubsub.Key(p.ID, a.User), n.opts.Now(), n.opts.SessionTTL)
		op.done(err)
		if err != nil {
			return nil, pubsub.AsError(err)
		}
		c.Code, c.Reason = pubsub.DisconnectRevoked, "session revoked"
	}
	if err := n.sendControl(ctx, c); err != nil {
		return nil, pubsub.AsError(err)
	}
	return struct{}{}, nil
}

func apiBatch(n *Node, ctx context.Context, p *structure.Project, a *APIParams) (any, *pubsub.Error) {
	replies := make([]APIReply, len(a.Commands))
	for i := range a.Commands {
		cmd := &a.Commands[i]
		m, ok := apiMethods[cmd.Method]
		if !ok || cmd.Method == "batch" {
			replies[i].Error = pubsub.Errorf(pubsub.CodeUnknownMethod, "unknown method %q", cmd.Method)
			continue
		}
		replies[i].Result, replies[i].Error = m(n, ctx, p, &cmd.Params)
	}
	return map[string]any{"replies": replies}, nil
}
