package node

import (
	"context"
	"encoding/json"
	"path"
	"strings"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// The operations below are shared by the server API, the client command
// endpoint and the admin UI. Each returns a protocol error for the caller
// to place in its own kind of answer.

// Publish publishes data (already compact JSON, see CompactData) to a
// resolved channel, for a client (info) or the server (info nil).
func (n *Node) Publish(ctx context.Context, c Ref, data json.RawMessage, info *pubsub.ClientInfo) (pubsub.Position, *pubsub.Error) {
	return n.publishWith(ctx, c, data, publishOptions(c.ns, info))
}

// PublishKeyed is Publish from the server API, with the publisher's
// idempotency key ("" for none). A repeated key answers the first
// publication's position and still emits a publish event: when the first
// attempt failed with 112 after Redis applied it, its event was never sent.
// Events carry the offset, so receivers drop the rare repeat by (channel,
// offset).
func (n *Node) PublishKeyed(ctx context.Context, c Ref, data json.RawMessage, idemKey string) (pubsub.Position, *pubsub.Error) {
	opts := publishOptions(c.ns, nil)
	opts.IdempotencyKey, opts.IdempotencyWindow = idemKey, n.opts.IdempotencyWindow
	return n.publishWith(ctx, c, data, opts)
}

func (n *Node) publishWith(ctx context.Context, c Ref, data json.RawMessage, opts pubsub.PublishOptions) (pubsub.Position, *pubsub.Error) {
	if perr := n.limits.CheckSize(len(data)); perr != nil {
		return pubsub.Position{}, perr
	}
	info := opts.Info
	op := n.metrics.ops.engineOp("publish")
	pos, err := n.engine.Publish(ctx, c.key, data, opts)
	op.done(err)
	if err != nil {
		n.log.WarnContext(ctx, "publish", "key", c.key, "err", err)
		return pubsub.Position{}, n.metrics.fail(err)
	}
	ev := Event{Type: EventPublish, Channel: c.ch.Full, Data: data, Offset: pos.Offset}
	if info != nil {
		ev.Client, ev.User, ev.Info = info.Client, info.User, info.Info
	}
	n.events.emit(c.project, ev)
	n.ops.charts.act.published(c.project.ID)
	return pos, nil
}

// HistoryParams are the parameters of `history` (docs/protocol.md, Commands).
type HistoryParams struct {
	Limit   *int             `json:"limit"`
	Since   *pubsub.Position `json:"since"`
	Reverse bool             `json:"reverse"`
}

// HistoryResult is the result of `history`.
type HistoryResult struct {
	Publications []*pubsub.Publication `json:"publications"`
	Epoch        string                `json:"epoch"`
	Offset       uint64                `json:"offset"`
}

func (n *Node) history(ctx context.Context, c Ref, hp HistoryParams) (*HistoryResult, *pubsub.Error) {
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
	op := n.metrics.ops.engineOp("history")
	res, err := n.engine.History(ctx, c.key, pubsub.HistoryRequest{Since: hp.Since, Limit: limit, Reverse: hp.Reverse})
	op.done(err)
	if err != nil {
		return nil, n.metrics.fail(err)
	}
	pubs := make([]*pubsub.Publication, len(res.Publications))
	for i, p := range res.Publications {
		cp := *p
		cp.Channel = c.ch.Full
		pubs[i] = &cp
	}
	return &HistoryResult{Publications: pubs, Epoch: res.Position.Epoch, Offset: res.Position.Offset}, nil
}

// presenceInfo is one client in a `presence` answer.
type presenceInfo struct {
	User     string          `json:"user"`
	Info     json.RawMessage `json:"info,omitempty"`
	ChanInfo json.RawMessage `json:"chan_info,omitempty"`
}

// presenceClients returns who is in a channel whose namespace has
// presence on (108 otherwise).
func (n *Node) presenceClients(ctx context.Context, c Ref) (map[string]*pubsub.ClientInfo, *pubsub.Error) {
	if !c.ns.Presence {
		return nil, pubsub.Errorf(pubsub.CodeNotAvailable, "presence is off in namespace %q", c.ns.Name)
	}
	op := n.metrics.ops.engineOp("presence")
	m, err := n.engine.Presence(ctx, c.key)
	op.done(err)
	if err != nil {
		return nil, n.metrics.fail(err)
	}
	return m, nil
}

// presenceOf is the `presence` answer for what presenceClients found.
func presenceOf(m map[string]*pubsub.ClientInfo, perr *pubsub.Error) (map[string]presenceInfo, *pubsub.Error) {
	if perr != nil {
		return nil, perr
	}
	out := make(map[string]presenceInfo, len(m))
	for id, ci := range m {
		out[id] = presenceInfo{User: ci.User, Info: ci.Info, ChanInfo: ci.ChanInfo}
	}
	return out, nil
}

func (n *Node) presenceStats(ctx context.Context, c Ref) (*pubsub.PresenceStats, *pubsub.Error) {
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
func (n *Node) channels(ctx context.Context, p *structure.Project, pattern string) (map[string]channelCount, *pubsub.Error) {
	if pattern == "" {
		pattern = "*"
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "bad pattern: %v", err)
	}
	var counts map[string]int
	if n.opts.Channels != nil {
		var err error
		counts, err = n.opts.Channels.Channels(ctx, pubsub.Key(p.ID, pattern))
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
