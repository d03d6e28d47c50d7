package transport

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/auth"
	"github.com/rotor-rt/rotor/transport/hooks"
)

// maxCommands bounds the commands of one /command request.
const maxCommands = 100

type commandRequest struct {
	Session  string    `json:"session"`
	Commands []command `json:"commands"`
}

type command struct {
	ID     uint64    `json:"id"`
	Method string    `json:"method"`
	Params cmdParams `json:"params"`
}

type cmdParams struct {
	Channel string           `json:"channel"`
	Token   string           `json:"token"`
	Grant   string           `json:"grant"`
	Data    json.RawMessage  `json:"data"`
	Since   *pubsub.Position `json:"since"`
	historyParams
}

type cmdReply struct {
	ID     uint64        `json:"id"`
	Result any           `json:"result,omitempty"`
	Error  *pubsub.Error `json:"error,omitempty"`
}

// cmdResult is the result of subscribe (and, with Error, one entry of
// connect's `subs`).
type cmdResult struct {
	Grant       string        `json:"grant,omitempty"`
	Epoch       string        `json:"epoch,omitempty"`
	Offset      uint64        `json:"offset"`
	Recoverable bool          `json:"recoverable"`
	Error       *pubsub.Error `json:"error,omitempty"`
}

// handleCommand serves POST /connection/{project}/command (docs/protocol.md, Commands).
func (n *Node) handleCommand(w http.ResponseWriter, r *http.Request, p *admin.Project) {
	var req commandRequest
	if status, perr := decodeBody(r, n.opts.MaxBody, &req); perr != nil {
		writeError(w, status, perr)
		return
	}
	if req.Session == "" {
		s, perr := cookieSession(p, r)
		if perr != nil {
			writeError(w, http.StatusForbidden, perr)
			return
		}
		req.Session = s
	}
	ctx := r.Context()
	id, status, perr := n.fromSession(ctx, p, req.Session)
	if perr != nil {
		writeError(w, status, perr)
		return
	}
	if len(req.Commands) > maxCommands {
		writeError(w, http.StatusBadRequest, pubsub.Errorf(pubsub.CodeLimitExceeded, "at most %d commands per request", maxCommands))
		return
	}
	if !n.rates.allowCommands(id.client, max(len(req.Commands), 1)) {
		n.refusedBy(limitCommandRate)
		writeError(w, http.StatusTooManyRequests, pubsub.Errorf(pubsub.CodeTooManyRequests, "too many requests"))
		return
	}
	replies := n.runCommands(ctx, id, req.Commands)
	for i := range req.Commands {
		if req.Commands[i].Method == "refresh" && replies[i].Error == nil {
			rr := replies[i].Result.(*refreshResult)
			n.setSessionCookie(w, r, p, rr.Session, rr.expires)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"replies": replies})
}

// runCommands answers cmds in order. Private channels subscribed in one
// request are authorized with one call to auth_url (docs/protocol.md, Private channels).
func (n *Node) runCommands(ctx context.Context, id *identity, cmds []command) []cmdReply {
	replies := make([]cmdReply, len(cmds))
	var private []string
	for _, c := range cmds {
		if c.Method == "subscribe" && c.Params.Token == "" {
			if ch, err := pubsub.ParseChannel(c.Params.Channel); err == nil && ch.Private {
				private = append(private, c.Params.Channel)
			}
		}
	}
	answers := n.authorizePrivate(ctx, id, private)
	for i, c := range cmds {
		replies[i].ID = c.ID
		var res any
		var perr *pubsub.Error
		switch c.Method {
		case "subscribe":
			start := time.Now()
			res, perr = n.cmdSubscribe(ctx, id, &c.Params, answers)
			n.ops.subscribeDur.Observe(time.Since(start).Seconds())
		case "unsubscribe":
			res, perr = n.cmdUnsubscribe(ctx, id, &c.Params)
		case "publish":
			res, perr = n.cmdPublish(ctx, id, &c.Params)
		case "presence", "presence_stats", "history":
			res, perr = n.cmdRead(ctx, id, c.Method, &c.Params)
		case "refresh":
			res, perr = n.cmdRefresh(id, &c.Params)
		case "ping":
			res = struct{}{}
		default:
			perr = pubsub.Errorf(pubsub.CodeUnknownMethod, "unknown method %q", c.Method)
		}
		replies[i].Result, replies[i].Error = res, perr
	}
	return replies
}

func (n *Node) cmdSubscribe(ctx context.Context, id *identity, a *cmdParams, answers map[string]hooks.AuthResult) (any, *pubsub.Error) {
	c, perr := resolve(id.project, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if perr := checkSubscribe(c, id.user); perr != nil {
		return nil, perr
	}
	var chanInfo json.RawMessage
	switch {
	case a.Token != "":
		claims, perr := n.subscriptionToken(id, a.Token)
		if perr != nil {
			return nil, perr
		}
		if claims.Channel != a.Channel {
			return nil, pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: subscription token is for channel %q", claims.Channel)
		}
		chanInfo = claims.Info
	case c.ch.Private:
		ans := answers[a.Channel]
		if !ans.Allow {
			return nil, pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied")
		}
		chanInfo = ans.Info
	}
	grant, err := n.signGrant(id, c, chanInfo)
	if err != nil {
		n.log.ErrorContext(ctx, "sign grant", "err", err)
		return nil, pubsub.ErrInternal
	}
	res := &cmdResult{Grant: grant, Recoverable: c.historyOn()}
	req := pubsub.HistoryRequest{Limit: 0}
	if a.Since != nil {
		req = pubsub.HistoryRequest{Since: a.Since, Limit: 1}
	}
	h, err := n.engine.History(ctx, c.key, req)
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	res.Epoch, res.Offset = h.Position.Epoch, h.Position.Offset
	if a.Since != nil {
		res.Recoverable = c.historyOn() && covers(*a.Since, h)
	}
	return res, nil
}

func (n *Node) cmdUnsubscribe(ctx context.Context, id *identity, a *cmdParams) (any, *pubsub.Error) {
	c, perr := resolve(id.project, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if err := n.sendControl(ctx, control{Op: opUnsubscribe, Project: id.project.ID, Client: id.client, Key: c.key}); err != nil {
		return nil, pubsub.AsError(err)
	}
	return struct{}{}, nil
}

// checkGrant verifies that a client holds a grant for a private channel.
func (n *Node) checkGrant(ctx context.Context, id *identity, c chanRef, grant string) *pubsub.Error {
	if grant == "" {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: a grant is required for private channel %q", c.ch.Full)
	}
	g, err := auth.VerifyGrant([]byte(id.project.Secret), id.project.ID, id.client, grant, n.opts.Now())
	if err != nil {
		return pubsub.AsError(err)
	}
	if g.Channel != c.ch.Full {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: the grant is for channel %q", g.Channel)
	}
	if perr := n.grantRevoked(ctx, id, g); perr != nil {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: %s", perr.Message)
	}
	return nil
}

// grantRevoked refuses a grant issued before an `unsubscribe` API call for
// its user and channel (docs/protocol.md, Server API), with 101.
func (n *Node) grantRevoked(ctx context.Context, id *identity, g *auth.Grant) *pubsub.Error {
	if id.user == "" {
		return nil
	}
	mark, err := n.engine.RevokedBefore(ctx, grantRevocationKey(id.project.ID, id.user, g.Channel))
	if err != nil {
		return pubsub.AsError(err)
	}
	if !mark.IsZero() && !g.Issued.After(mark) {
		return pubsub.Errorf(pubsub.CodeUnauthorized, "grant revoked")
	}
	return nil
}

func (n *Node) cmdPublish(ctx context.Context, id *identity, a *cmdParams) (any, *pubsub.Error) {
	c, perr := resolve(id.project, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if !c.ns.Publish {
		return nil, pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: clients may not publish in namespace %q", c.ns.Name)
	}
	if !n.rates.allowPublish(id.client) {
		n.refusedBy(limitPublishRate)
		return nil, pubsub.Errorf(pubsub.CodeTooManyRequests, "too many publications")
	}
	if perr := checkSubscribe(c, id.user); perr != nil {
		return nil, perr
	}
	if c.ch.Private {
		if perr := n.checkGrant(ctx, id, c, a.Grant); perr != nil {
			return nil, perr
		}
	}
	data, perr := compactData(a.Data)
	if perr != nil {
		return nil, perr
	}
	p := id.project
	if p.PublishHookURL != "" {
		hctx, cancel := context.WithTimeout(ctx, n.opts.HookTimeout)
		start := time.Now()
		res, err := n.opts.PublishHook.BeforePublish(hctx, hooks.PublishHookRequest{
			URL: p.PublishHookURL, Secret: []byte(p.Secret), Channel: a.Channel, Data: data, Client: id.client, User: id.user,
		})
		cancel()
		n.metrics.observeHook("publish", start, err)
		if err != nil {
			n.log.WarnContext(ctx, "publish hook failed: publication refused", "project", p.ID, "err", err)
			return nil, pubsub.Errorf(pubsub.CodeInternal, "publish hook failed")
		}
		if res.Cancel {
			reason := res.Reason
			if reason == "" {
				reason = "permission denied"
			}
			return nil, pubsub.Errorf(pubsub.CodePermissionDenied, "%s", reason)
		}
		if res.Data != nil {
			if data, perr = compactData(res.Data); perr != nil {
				return nil, pubsub.Errorf(pubsub.CodeInternal, "publish hook replaced data with invalid JSON")
			}
		}
	}
	pos, perr := n.publish(ctx, c, data, id.clientInfo(nil))
	if perr != nil {
		return nil, perr
	}
	return publishResult{Offset: pos.Offset, Epoch: pos.Epoch}, nil
}

// cmdRead answers presence, presence_stats and history for a client: the
// channel's subscribe rules apply, and a private channel needs its grant.
func (n *Node) cmdRead(ctx context.Context, id *identity, method string, a *cmdParams) (any, *pubsub.Error) {
	c, perr := resolve(id.project, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if perr := checkSubscribe(c, id.user); perr != nil {
		return nil, perr
	}
	if c.ch.Private {
		if perr := n.checkGrant(ctx, id, c, a.Grant); perr != nil {
			return nil, perr
		}
	}
	switch method {
	case "presence":
		clients, perr := n.presenceOf(ctx, c)
		if perr != nil {
			return nil, perr
		}
		return map[string]any{"clients": clients}, nil
	case "presence_stats":
		return n.presenceStats(ctx, c)
	default:
		hp := a.historyParams
		if hp.Since == nil {
			hp.Since = a.Since
		}
		return n.history(ctx, c, hp)
	}
}

type refreshResult struct {
	Session string `json:"session"`
	Expires int64  `json:"expires"`
	expires time.Time
}

func (n *Node) cmdRefresh(id *identity, a *cmdParams) (any, *pubsub.Error) {
	claims, err := auth.ParseConnectionToken(a.Token, []byte(id.project.Secret), n.opts.Now())
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	if claims.User != id.user {
		return nil, pubsub.Errorf(pubsub.CodeUnauthorized, "token is for another user")
	}
	fresh := *id
	fresh.issued = n.opts.Now()
	fresh.info = claims.Info
	fresh.expires = fresh.issued.Add(n.opts.SessionTTL)
	if !claims.Expires.IsZero() {
		fresh.expires = claims.Expires
	}
	s, err := n.signSession(&fresh)
	if err != nil {
		return nil, pubsub.ErrInternal
	}
	return &refreshResult{Session: s, Expires: fresh.expires.Unix(), expires: fresh.expires}, nil
}
