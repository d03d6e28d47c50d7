package transport

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
)

// apiParams holds the parameters of every server API method (docs/protocol.md,
// Server API).
type apiParams struct {
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
	Commands  []apiCommand    `json:"commands"`
	// IdempotencyKey makes publish and broadcast happen at most once per
	// channel within the idempotency window (see checkIdempotencyKey).
	IdempotencyKey string `json:"idempotency_key"`
	historyParams
}

type apiCommand struct {
	Method string    `json:"method"`
	Params apiParams `json:"params"`
}

// apiReply is one answer of the API: a result or an error.
type apiReply struct {
	Result any           `json:"result,omitempty"`
	Error  *pubsub.Error `json:"error,omitempty"`
}

type apiMethod func(n *Node, ctx context.Context, p *admin.Project, params *apiParams) (any, *pubsub.Error)

var apiMethods map[string]apiMethod

func init() {
	apiMethods = map[string]apiMethod{
		"publish":        (*Node).apiPublish,
		"broadcast":      (*Node).apiBroadcast,
		"history":        (*Node).apiHistory,
		"history_remove": (*Node).apiHistoryRemove,
		"presence":       (*Node).apiPresence,
		"presence_stats": (*Node).apiPresenceStats,
		"channels":       (*Node).apiChannels,
		"info":           (*Node).apiInfo,
		"unsubscribe":    (*Node).apiUnsubscribe,
		"disconnect":     (*Node).apiDisconnect,
		"batch":          (*Node).apiBatch,
	}
}

// handleAPI serves POST /api/{method}.
func (n *Node) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := chi.URLParam(r, "method")
	m, ok := apiMethods[method]
	if !ok {
		writeError(w, http.StatusNotFound, pubsub.Errorf(pubsub.CodeUnknownMethod, "unknown method %q", method))
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "apikey ")
	if !ok || key == "" {
		writeError(w, http.StatusUnauthorized, pubsub.Errorf(pubsub.CodeUnauthorized, "missing Authorization: apikey <key>"))
		return
	}
	var params apiParams
	if status, perr := decodeBody(r, n.opts.MaxBody, &params); perr != nil {
		writeError(w, status, perr)
		return
	}
	ctx := r.Context()
	p, status, perr := n.apiProject(ctx, key, params.Project)
	if perr != nil {
		writeError(w, status, perr)
		return
	}
	observedAPI(ctx).project = p.ID
	if !n.rates.allowAPI(key) {
		n.refusedBy(limitAPIRate)
		writeError(w, http.StatusTooManyRequests, pubsub.Errorf(pubsub.CodeTooManyRequests, "too many requests"))
		return
	}
	res, perr := m(n, ctx, p, &params)
	if perr != nil {
		observedAPI(ctx).code = perr.Code
		status := http.StatusOK
		if perr.Code == pubsub.CodeUnavailable {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, apiReply{Error: perr})
		return
	}
	writeJSON(w, http.StatusOK, apiReply{Result: res})
}

// apiProject authenticates key: the global admin key acts on the project
// named in the body; a project key on its own project.
func (n *Node) apiProject(ctx context.Context, key, project string) (*admin.Project, int, *pubsub.Error) {
	if n.opts.AdminAPIKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(n.opts.AdminAPIKey)) == 1 {
		if project == "" {
			return nil, http.StatusBadRequest, pubsub.Errorf(pubsub.CodeBadRequest, "project is required with the admin key")
		}
		return n.lookupProject(ctx, project)
	}
	p, err := n.keys.lookup(ctx, key)
	if err != nil {
		if errors.Is(err, admin.ErrNotFound) {
			return nil, http.StatusUnauthorized, pubsub.Errorf(pubsub.CodeUnauthorized, "invalid API key")
		}
		n.log.ErrorContext(ctx, "API key lookup", "err", err)
		return nil, http.StatusServiceUnavailable, pubsub.ErrUnavailable
	}
	if project != "" && project != p.ID {
		return nil, http.StatusUnauthorized, pubsub.Errorf(pubsub.CodeUnauthorized, "API key is not for project %q", project)
	}
	return p, 0, nil
}

func (n *Node) apiChannel(p *admin.Project, name string) (chanRef, *pubsub.Error) {
	if name == "" {
		return chanRef{}, pubsub.Errorf(pubsub.CodeBadRequest, "channel is required")
	}
	return resolve(p, name)
}

type publishResult struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

func (n *Node) apiPublish(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	c, perr := n.apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if perr := checkIdempotencyKey(a.IdempotencyKey); perr != nil {
		return nil, perr
	}
	data, perr := compactData(a.Data)
	if perr != nil {
		return nil, perr
	}
	pos, perr := n.publishKeyed(ctx, c, data, a.IdempotencyKey)
	if perr != nil {
		return nil, perr
	}
	return publishResult{Offset: pos.Offset, Epoch: pos.Epoch}, nil
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

func (n *Node) apiBroadcast(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	if len(a.Channels) == 0 {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "channels is required")
	}
	if perr := checkIdempotencyKey(a.IdempotencyKey); perr != nil {
		return nil, perr
	}
	data, perr := compactData(a.Data)
	if perr != nil {
		return nil, perr
	}
	results := make([]broadcastItem, len(a.Channels))
	for i, name := range a.Channels {
		results[i].Channel = name
		c, perr := resolve(p, name)
		if perr == nil {
			var pos pubsub.Position
			pos, perr = n.publishKeyed(ctx, c, data, a.IdempotencyKey)
			results[i].Offset, results[i].Epoch = pos.Offset, pos.Epoch
		}
		results[i].Error = perr
	}
	return map[string]any{"results": results}, nil
}

func (n *Node) apiHistory(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	c, perr := n.apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	return n.history(ctx, c, a.historyParams)
}

func (n *Node) apiHistoryRemove(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	c, perr := n.apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if err := n.engine.RemoveHistory(ctx, c.key); err != nil {
		return nil, pubsub.AsError(err)
	}
	return struct{}{}, nil
}

func (n *Node) apiPresence(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	c, perr := n.apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	clients, perr := n.presenceOf(ctx, c)
	if perr != nil {
		return nil, perr
	}
	return map[string]any{"clients": clients}, nil
}

func (n *Node) apiPresenceStats(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	c, perr := n.apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	return n.presenceStats(ctx, c)
}

func (n *Node) apiChannels(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	chans, perr := n.channels(ctx, p, a.Pattern)
	if perr != nil {
		return nil, perr
	}
	return map[string]any{"channels": chans}, nil
}

func (n *Node) apiInfo(ctx context.Context, _ *admin.Project, _ *apiParams) (any, *pubsub.Error) {
	nodes, err := n.Nodes(ctx)
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	return map[string]any{"nodes": nodes}, nil
}

// apiUnsubscribe ends a user's subscription to a channel on every node and
// revokes the grants issued for it until now.
func (n *Node) apiUnsubscribe(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	c, perr := n.apiChannel(p, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if a.User == "" {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "user is required")
	}
	done := n.engineOp("revoke")
	err := n.engine.Revoke(ctx, grantRevocationKey(p.ID, a.User, c.ch.Full), n.opts.Now(), n.opts.SessionTTL)
	done(err)
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
func (n *Node) apiDisconnect(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	if a.User == "" {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "user is required")
	}
	c := control{Op: opDisconnect, Project: p.ID, User: a.User}
	if a.Reconnect {
		c.Code, c.Reason, c.Reconnect = pubsub.DisconnectNormal, "disconnected by server", true
	} else {
		// Marks are kept to the millisecond; a session issued in this
		// same millisecond is refused too, which is the safe side.
		done := n.engineOp("revoke")
		err := n.engine.Revoke(ctx, pubsub.Key(p.ID, a.User), n.opts.Now(), n.opts.SessionTTL)
		done(err)
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

func (n *Node) apiBatch(ctx context.Context, p *admin.Project, a *apiParams) (any, *pubsub.Error) {
	replies := make([]apiReply, len(a.Commands))
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

// Nodes lists the running nodes: every node with an engine that shares
// them, else this one.
func (n *Node) Nodes(ctx context.Context) ([]pubsub.NodeInfo, error) {
	if d, ok := n.engine.(pubsub.NodeDirectory); ok {
		nodes, err := d.Nodes(ctx)
		if err != nil {
			return nil, err
		}
		if len(nodes) > 0 {
			return nodes, nil
		}
	}
	return []pubsub.NodeInfo{n.localInfo()}, nil
}

// localInfo describes this node.
func (n *Node) localInfo() pubsub.NodeInfo {
	st := n.hub.Stats()
	clients := st.Streams
	return pubsub.NodeInfo{
		ID: n.opts.NodeID, Version: n.opts.Version,
		Uptime:  int64(time.Since(n.started) / time.Second),
		Clients: clients, Subscriptions: st.Subscriptions, Channels: st.Channels,
		PublicationsPerSec: math.Float64frombits(n.pubRate.Load()),
	}
}
