package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// Broker is the engine's pubsub.Broker: publications, join/leave and
// control messages, history, and this node's subscriptions (Subscribe and
// Unsubscribe, subscriber.go).
type Broker struct {
	*conn
	subs *subscriber
	// watch forwards publications of watched projects (watch.go).
	watch *Watcher
}

// Publish runs the publish script: one EVALSHA per publication.
func (b *Broker) Publish(ctx context.Context, key string, data json.RawMessage, opts pubsub.PublishOptions) (pubsub.Position, error) {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	info, err := encodeInfo(opts.Info)
	if err != nil {
		return pubsub.Position{}, err
	}
	size := max(opts.HistorySize, 0)
	histTTL := opts.HistoryTTL
	if histTTL <= 0 {
		histTTL = DefaultHistoryTTL
	}
	// Meta outlives history (at least MetaTTL) so that expired history
	// reads as a gap in the same epoch rather than as data loss.
	metaTTL := max(histTTL, b.opts.MetaTTL)
	keys := []string{b.keys.meta(key), b.keys.history(key)}
	if opts.IdempotencyKey != "" {
		keys = append(keys, b.keys.idem(key, opts.IdempotencyKey))
	}
	res, err := publishScript.Run(ctx, b.rdb, keys,
		b.keys.topic(key), []byte(data), info, size, ms(histTTL), ms(metaTTL), randomID(), b.publishCmd(),
		ms(opts.IdempotencyWindowOrDefault()),
	).Slice()
	if err != nil {
		return pubsub.Position{}, b.wrap("publish", err)
	}
	if len(res) != 2 && len(res) != 3 {
		return pubsub.Position{}, fmt.Errorf("redis publish: unexpected reply %v", res)
	}
	offset, ok := res[0].(int64)
	epoch, ok2 := res[1].(string)
	if !ok || !ok2 {
		return pubsub.Position{}, fmt.Errorf("redis publish: unexpected reply %v", res)
	}
	pos := pubsub.Position{Epoch: epoch, Offset: uint64(offset)}
	if len(res) == 2 { // not a repeated idempotency key
		b.watch.forward(ctx, key, data, info, pos)
	}
	return pos, nil
}

// PublishJoin delivers a join event to the nodes subscribed to key.
func (b *Broker) PublishJoin(ctx context.Context, key string, info *pubsub.ClientInfo) error {
	return b.publishPresenceEvent(ctx, key, 'j', info)
}

// PublishLeave delivers a leave event to the nodes subscribed to key.
func (b *Broker) PublishLeave(ctx context.Context, key string, info *pubsub.ClientInfo) error {
	return b.publishPresenceEvent(ctx, key, 'l', info)
}

func (b *Broker) publishPresenceEvent(ctx context.Context, key string, kind byte, info *pubsub.ClientInfo) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	enc, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode client info: %w", err)
	}
	msg := append([]byte{kind}, enc...)
	topic := b.keys.topic(key)
	if b.cluster {
		err = b.rdb.SPublish(ctx, topic, msg).Err()
	} else {
		err = b.rdb.Publish(ctx, topic, msg).Err()
	}
	return b.wrap("publish join/leave", err)
}

// PublishControl delivers data to HandleControl on every node, this one
// included.
func (b *Broker) PublishControl(ctx context.Context, data []byte) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	return b.wrap("publish control", b.rdb.Publish(ctx, b.keys.control(), data).Err())
}

// History reads history as pubsub.HistoryRequest describes.
func (b *Broker) History(ctx context.Context, key string, req pubsub.HistoryRequest) (pubsub.HistoryResult, error) {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	r := historyRange(req)
	res, err := historyScript.Run(ctx, b.rdb,
		[]string{b.keys.meta(key), b.keys.history(key)},
		randomID(), ms(b.opts.MetaTTL), r.cmd, r.start, r.end, r.count,
	).Slice()
	if err != nil {
		return pubsub.HistoryResult{}, b.wrap("history", err)
	}
	return parseHistory(res, r.flip)
}

// RemoveHistory drops a channel's publications; its meta stays.
func (b *Broker) RemoveHistory(ctx context.Context, key string) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	return b.wrap("remove history", b.rdb.Del(ctx, b.keys.history(key)).Err())
}

func (b *Broker) publishCmd() string {
	if b.cluster {
		return "spublish"
	}
	return "publish"
}

// streamRange is one XRANGE/XREVRANGE call; flip reverses its result.
type streamRange struct {
	cmd, start, end string
	count           int
	flip            bool
}

// historyRange maps a HistoryRequest onto stream ids: publication n is
// stored with id "n-0".
func historyRange(req pubsub.HistoryRequest) streamRange {
	if req.Limit == 0 {
		return streamRange{count: 0}
	}
	count := req.Limit
	if count < 0 {
		count = -1
	}
	switch {
	case req.Since == nil && !req.Reverse && count < 0:
		return streamRange{cmd: "xrange", start: "-", end: "+", count: -1}
	case req.Since == nil && !req.Reverse:
		// The newest Limit, oldest first: read backwards, then flip.
		return streamRange{cmd: "xrevrange", start: "+", end: "-", count: count, flip: true}
	case req.Since == nil:
		return streamRange{cmd: "xrevrange", start: "+", end: "-", count: count}
	case !req.Reverse:
		return streamRange{cmd: "xrange", start: strconv.FormatUint(req.Since.Offset+1, 10) + "-0", end: "+", count: count}
	case req.Since.Offset <= 1:
		return streamRange{count: 0} // nothing is older than offset 1
	default:
		return streamRange{cmd: "xrevrange", start: strconv.FormatUint(req.Since.Offset-1, 10) + "-0", end: "-", count: count}
	}
}

// parseHistory decodes {epoch, offset, entries} where each entry is
// {id, {field, value, ...}}.
func parseHistory(res []any, flip bool) (pubsub.HistoryResult, error) {
	bad := func() (pubsub.HistoryResult, error) {
		return pubsub.HistoryResult{}, fmt.Errorf("redis history: unexpected reply %v", res)
	}
	if len(res) != 3 {
		return bad()
	}
	epoch, ok := res[0].(string)
	if !ok {
		return bad()
	}
	offset, err := strconv.ParseUint(fmt.Sprint(res[1]), 10, 64)
	if err != nil {
		return bad()
	}
	entries, ok := res[2].([]any)
	if !ok {
		return bad()
	}
	// Never nil, as the memory engine: it encodes as [] in JSON.
	out := pubsub.HistoryResult{
		Position:     pubsub.Position{Epoch: epoch, Offset: offset},
		Publications: make([]*pubsub.Publication, 0, len(entries)),
	}
	for _, raw := range entries {
		entry, ok := raw.([]any)
		if !ok || len(entry) != 2 {
			return bad()
		}
		id, _ := entry[0].(string)
		fields, _ := entry[1].([]any)
		n, _, _ := strings.Cut(id, "-")
		off, err := strconv.ParseUint(n, 10, 64)
		if err != nil {
			return bad()
		}
		pub := &pubsub.Publication{Offset: off, Epoch: epoch}
		for i := 0; i+1 < len(fields); i += 2 {
			name, _ := fields[i].(string)
			value, _ := fields[i+1].(string)
			switch name {
			case "d":
				pub.Data = json.RawMessage(value)
			case "i":
				if value != "" {
					pub.Info = new(pubsub.ClientInfo)
					if err := json.Unmarshal([]byte(value), pub.Info); err != nil {
						return pubsub.HistoryResult{}, fmt.Errorf("redis history: decode info: %w", err)
					}
				}
			}
		}
		out.Publications = append(out.Publications, pub)
	}
	if flip {
		for i, j := 0, len(out.Publications)-1; i < j; i, j = i+1, j-1 {
			out.Publications[i], out.Publications[j] = out.Publications[j], out.Publications[i]
		}
	}
	return out, nil
}

func encodeInfo(info *pubsub.ClientInfo) (string, error) {
	if info == nil {
		return "", nil
	}
	b, err := json.Marshal(info)
	if err != nil {
		return "", fmt.Errorf("encode client info: %w", err)
	}
	return string(b), nil
}

// ms converts a duration to whole milliseconds, rounding up so that a
// positive duration never becomes "no TTL".
func ms(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}
