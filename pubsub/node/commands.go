package node

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// maxCommands bounds the commands of one /command request.
const maxCommands = 100

// Command is one client command (docs/protocol.md, Commands).
type Command struct {
	ID     uint64        `json:"id"`
	Method string        `json:"method"`
	Params CommandParams `json:"params"`
}

// CommandParams are the parameters of every client command.
type CommandParams struct {
	Channel string           `json:"channel"`
	Token   string           `json:"token"`
	Grant   string           `json:"grant"`
	Data    json.RawMessage  `json:"data"`
	Since   *pubsub.Position `json:"since"`
	HistoryParams
}

// Reply answers one command: a result or an error.
type Reply struct {
	ID     uint64        `json:"id"`
	Result any           `json:"result,omitempty"`
	Error  *pubsub.Error `json:"error,omitempty"`
}

// SubscribeResult is the result of subscribe (and, with Error, one entry of
// connect's `subs`).
type SubscribeResult struct {
	Grant       string        `json:"grant,omitempty"`
	Epoch       string        `json:"epoch,omitempty"`
	Offset      uint64        `json:"offset"`
	Recoverable bool          `json:"recoverable"`
	Error       *pubsub.Error `json:"error,omitempty"`
}

// Commands runs the commands of one /command request for id, in order:
// at most maxCommands, within the client's command rate. Private channels
// subscribed in one request are authorized with one call to auth_url
// (docs/protocol.md, Private channels).
func (n *Node) Commands(ctx context.Context, id *Identity, cmds []Command) ([]Reply, *pubsub.Error) {
	if len(cmds) > maxCommands {
		return nil, &pubsub.Error{Code: pubsub.CodeLimitExceeded, Message: fmt.Sprintf("at most %d commands per request", maxCommands), Kind: pubsub.KindBadRequest}
	}
	if !n.limits.rates.allowCommands(id.client, max(len(cmds), 1)) {
		n.limits.refusedBy(limitCommandRate)
		return nil, pubsub.Errorf(pubsub.CodeTooManyRequests, "too many requests")
	}
	return n.runCommands(ctx, id, cmds), nil
}

// runCommands answers cmds in order.
func (n *Node) runCommands(ctx context.Context, id *Identity, cmds []Command) []Reply {
	replies := make([]Reply, len(cmds))
	var private []string
	for _, c := range cmds {
		if c.Method == "subscribe" && c.Params.Token == "" {
			if ch, err := pubsub.ParseChannel(c.Params.Channel); err == nil && ch.Private {
				private = append(private, c.Params.Channel)
			}
		}
	}
	answers := n.sessions.authorizePrivate(ctx, id, private)
	for i, c := range cmds {
		replies[i].ID = c.ID
		var res any
		var perr *pubsub.Error
		switch c.Method {
		case "subscribe":
			start := time.Now()
			res, perr = cmdSubscribe(n, ctx, id, &c.Params, answers)
			n.metrics.ops.subscribeDur.Observe(time.Since(start).Seconds())
		case "unsubscribe":
			res, perr = cmdUnsubscribe(n, ctx, id, &c.Params)
		case "publish":
			res, perr = cmdPublish(n, ctx, id, &c.Params)
		case "presence", "presence_stats", "history":
			res, perr = cmdRead(n, ctx, id, c.Method, &c.Params)
		case "refresh":
			res, perr = n.sessions.refresh(id, c.Params.Token)
		case "ping":
			res = struct{}{}
		default:
			perr = pubsub.Errorf(pubsub.CodeUnknownMethod, "unknown method %q", c.Method)
		}
		replies[i].Result, replies[i].Error = res, perr
	}
	return replies
}

func cmdSubscribe(n *Node, ctx context.Context, id *Identity, a *CommandParams, answers map[string]AuthResult) (any, *pubsub.Error) {
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
		claims, perr := n.sessions.subscriptionToken(id, a.Token)
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
	grant, err := n.sessions.signGrant(id, c, chanInfo)
	if err != nil {
		n.log.ErrorContext(ctx, "sign grant", "err", err)
		return nil, pubsub.ErrInternal
	}
	res := &SubscribeResult{Grant: grant, Recoverable: c.historyOn()}
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

func cmdUnsubscribe(n *Node, ctx context.Context, id *Identity, a *CommandParams) (any, *pubsub.Error) {
	c, perr := resolve(id.project, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if err := n.sendControl(ctx, control{Op: opUnsubscribe, Project: id.project.ID, Client: id.client, Key: c.key}); err != nil {
		return nil, pubsub.AsError(err)
	}
	return struct{}{}, nil
}

func cmdPublish(n *Node, ctx context.Context, id *Identity, a *CommandParams) (any, *pubsub.Error) {
	c, perr := resolve(id.project, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if !c.ns.Publish {
		return nil, pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: clients may not publish in namespace %q", c.ns.Name)
	}
	if !n.limits.rates.allowPublish(id.client) {
		n.limits.refusedBy(limitPublishRate)
		return nil, pubsub.Errorf(pubsub.CodeTooManyRequests, "too many publications")
	}
	if perr := checkSubscribe(c, id.user); perr != nil {
		return nil, perr
	}
	if c.ch.Private {
		if perr := n.sessions.checkGrant(ctx, id, c, a.Grant); perr != nil {
			return nil, perr
		}
	}
	data, perr := CompactData(a.Data)
	if perr != nil {
		return nil, perr
	}
	p := id.project
	if p.PublishHookURL != "" {
		hctx, cancel := context.WithTimeout(ctx, n.opts.HookTimeout)
		start := time.Now()
		res, err := n.opts.PublishHook.BeforePublish(hctx, PublishHookRequest{
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
			if data, perr = CompactData(res.Data); perr != nil {
				return nil, pubsub.Errorf(pubsub.CodeInternal, "publish hook replaced data with invalid JSON")
			}
		}
	}
	pos, perr := n.Publish(ctx, c, data, id.clientInfo(nil))
	if perr != nil {
		return nil, perr
	}
	return PublishResult{Offset: pos.Offset, Epoch: pos.Epoch}, nil
}

// cmdRead answers presence, presence_stats and history for a client: the
// channel's subscribe rules apply, and a private channel needs its grant.
func cmdRead(n *Node, ctx context.Context, id *Identity, method string, a *CommandParams) (any, *pubsub.Error) {
	c, perr := resolve(id.project, a.Channel)
	if perr != nil {
		return nil, perr
	}
	if perr := checkSubscribe(c, id.user); perr != nil {
		return nil, perr
	}
	if c.ch.Private {
		if perr := n.sessions.checkGrant(ctx, id, c, a.Grant); perr != nil {
			return nil, perr
		}
	}
	switch method {
	case "presence":
		clients, perr := presenceOf(n.presenceClients(ctx, c))
		if perr != nil {
			return nil, perr
		}
		return map[string]any{"clients": clients}, nil
	case "presence_stats":
		return n.presenceStats(ctx, c)
	default:
		hp := a.HistoryParams
		if hp.Since == nil {
			hp.Since = a.Since
		}
		return n.history(ctx, c, hp)
	}
}

// RefreshResult is the result of refresh: a fresh session.
type RefreshResult struct {
	Session string `json:"session"`
	Expires int64  `json:"expires"`
	expires time.Time
}

// ExpiresAt returns when the fresh session ends.
func (r *RefreshResult) ExpiresAt() time.Time { return r.expires }
