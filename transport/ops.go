package transport

import (
	"context"
	"encoding/json"
	"path"
	"strings"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/hooks"
)

// The operations below are shared by the server API, the client command
// endpoint and the admin UI. Each returns a protocol error for the caller
// to place in its own kind of answer.

// publish publishes data (already compact JSON) to a resolved channel.
func (n *Node) publish(ctx context.Context, c chanRef, data json.RawMessage, info *pubsub.ClientInfo) (pubsub.Position, *pubsub.Error) {
	return n.publishWith(ctx, c, data, publishOptions(c.ns, info))
}

// publishKeyed is publish from the server API, with the publisher's
// idempotency key ("" for none). A repeated key answers the first
// publication's position and still emits a publish event: when the first
// attempt failed with 112 after Redis applied it, its event was never sent.
// Events carry the offset, so receivers drop the rare repeat by (channel,
// offset).
func (n *Node) publishKeyed(ctx context.Context, c chanRef, data json.RawMessage, idemKey string) (pubsub.Position, *pubsub.Error) {
	opts := publishOptions(c.ns, nil)
	opts.IdempotencyKey, opts.IdempotencyWindow = idemKey, n.opts.IdempotencyWindow
	return n.publishWith(ctx, c, data, opts)
}

func (n *Node) publishWith(ctx context.Context, c chanRef, data json.RawMessage, opts pubsub.PublishOptions) (pubsub.Position, *pubsub.Error) {
	if int64(len(data)) > n.opts.MaxBody {
		n.refusedBy(limitMessageSize)
		return pubsub.Position{}, pubsub.Errorf(pubsub.CodeLimitExceeded, "data is larger than %d bytes", n.opts.MaxBody)
	}
	info := opts.Info
	done := n.engineOp("publish")
	pos, err := n.engine.Publish(ctx, c.key, data, opts)
	done(err)
	if err != nil {
		n.log.WarnContext(ctx, "publish", "key", c.key, "err", err)
		return pubsub.Position{}, n.fail(err)
	}
	ev := hooks.Event{Type: hooks.EventPublish, Channel: c.ch.Full, Data: data, Offset: pos.Offset}
	if info != nil {
		ev.Client, ev.User, ev.Info = info.Client, info.User, info.Info
	}
	n.emit(c.project, ev)
	n.charts.act.published(c.project.ID)
	return pos, nil
}

// historyParams are the parameters of `history` (docs/protocol.md, Commands).
type historyParams struct {
	Limit   *int             `json:"limit"`
	Since   *pubsub.Position `json:"since"`
	Reverse bool             `json:"reverse"`
}

// historyResult is the result of `history`.
type historyResult struct {
	Publications []*pubsub.Publication `json:"publications"`
	Epoch        string                `json:"epoch"`
	Offset       uint64                `json:"offset"`
}

func (n *Node) history(ctx context.Context, c chanRef, hp historyParams) (*historyResult, *pubsub.Error) {
	if !c.historyOn() {
		return nil, pubsub.Errorf(pubsub.CodeNotAvailable, "history is off in namespace %q", c.ns.Name)
	}
	limit := -1
	if hp.Limit != nil {
		if *hp.Limit < 0 {
			return nil, pubsub.Errorf(pubsub.CodeBadRequest, "limit must not be negative")
		}
		limit = *hp.Limit
	}
	done := n.engineOp("history")
	res, err := n.engine.History(ctx, c.key, pubsub.HistoryRequest{Since: hp.Since, Limit: limit, Reverse: hp.Reverse})
	done(err)
	if err != nil {
		return nil, n.fail(err)
	}
	pubs := make([]*pubsub.Publication, len(res.Publications))
	for i, p := range res.Publications {
		cp := *p
		cp.Channel = c.ch.Full
		pubs[i] = &cp
	}
	return &historyResult{Publications: pubs, Epoch: res.Position.Epoch, Offset: res.Position.Offset}, nil
}

// presenceInfo is one client in a `presence` answer.
type presenceInfo struct {
	User     string          `json:"user"`
	Info     json.RawMessage `json:"info,omitempty"`
	ChanInfo json.RawMessage `json:"chan_info,omitempty"`
}

// presenceClients returns who is in a channel whose namespace has
// presence on (108 otherwise).
func (n *Node) presenceClients(ctx context.Context, c chanRef) (map[string]*pubsub.ClientInfo, *pubsub.Error) {
	if !c.ns.Presence {
		return nil, pubsub.Errorf(pubsub.CodeNotAvailable, "presence is off in namespace %q", c.ns.Name)
	}
	done := n.engineOp("presence")
	m, err := n.engine.Presence(ctx, c.key)
	done(err)
	if err != nil {
		return nil, n.fail(err)
	}
	return m, nil
}

func (n *Node) presenceOf(ctx context.Context, c chanRef) (map[string]presenceInfo, *pubsub.Error) {
	m, perr := n.presenceClients(ctx, c)
	if perr != nil {
		return nil, perr
	}
	out := make(map[string]presenceInfo, len(m))
	for id, ci := range m {
		out[id] = presenceInfo{User: ci.User, Info: ci.Info, ChanInfo: ci.ChanInfo}
	}
	return out, nil
}

func (n *Node) presenceStats(ctx context.Context, c chanRef) (*pubsub.PresenceStats, *pubsub.Error) {
	if !c.ns.Presence {
		return nil, pubsub.Errorf(pubsub.CodeNotAvailable, "presence is off in namespace %q", c.ns.Name)
	}
	st, err := n.engine.PresenceStats(ctx, c.key)
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	return &st, nil
}

// channelCount is one entry of the `channels` answer.
type channelCount struct {
	Clients int `json:"clients"`
}

// channels lists a project's active channels matching a glob.
func (n *Node) channels(ctx context.Context, p *admin.Project, pattern string) (map[string]channelCount, *pubsub.Error) {
	if pattern == "" {
		pattern = "*"
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "bad pattern: %v", err)
	}
	var counts map[string]int
	if cl, ok := n.engine.(pubsub.ChannelLister); ok {
		var err error
		counts, err = cl.Channels(ctx, pubsub.Key(p.ID, pattern))
		if err != nil {
			return nil, pubsub.AsError(err)
		}
	} else {
		counts = n.hub.Channels()
	}
	prefix := p.ID + "|"
	out := make(map[string]channelCount)
	for key, cnt := range counts {
		name, ok := strings.CutPrefix(key, prefix)
		if !ok {
			continue
		}
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = channelCount{Clients: cnt}
		}
	}
	return out, nil
}
