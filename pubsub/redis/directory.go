package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// Directory is what nodes share about themselves: their info
// (pubsub.NodeDirectory), their channel counts (pubsub.ChannelLister and
// pubsub.ChannelCountReporter) and their recent activity for the admin
// charts (pubsub.SeriesDirectory), each entry expiring unless refreshed.
type Directory struct{ *conn }

// UpdateNode publishes this node's info for ttl (a heartbeat).
func (d *Directory) UpdateNode(ctx context.Context, info pubsub.NodeInfo, ttl time.Duration) error {
	return d.putTTL(ctx, "update node", []string{d.keys.nodes(), d.keys.nodesZ()}, info.ID, info, ttl)
}

// Nodes lists the nodes whose heartbeat has not expired, by id.
func (d *Directory) Nodes(ctx context.Context) ([]pubsub.NodeInfo, error) {
	return readTTL(ctx, d.conn, "nodes", []string{d.keys.nodes(), d.keys.nodesZ()},
		func(n *pubsub.NodeInfo) string { return n.ID })
}

// putTTL stores v, as JSON, under id in the table of entries that expire
// (a hash and its sorted set of deadlines) for ttl.
func (d *Directory) putTTL(ctx context.Context, op string, table []string, id string, v any, ttl time.Duration) error {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("redis %s: encode: %w", op, err)
	}
	err = addTTLScript.Run(ctx, d.rdb, table, id, b, max(ms(ttl), 1)).Err()
	return d.wrap(op, err)
}

// readTTL reads the entries of an expiring table that have not expired,
// sorted by id.
func readTTL[T any](ctx context.Context, c *conn, op string, table []string, id func(*T) string) ([]T, error) {
	ctx, cancel := c.opCtx(ctx)
	defer cancel()
	flat, err := readTTLScript.Run(ctx, c.rdb, table).StringSlice()
	if err != nil {
		return nil, c.wrap(op, err)
	}
	out := make([]T, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		var v T
		if err := json.Unmarshal([]byte(flat[i+1]), &v); err != nil {
			return nil, fmt.Errorf("redis %s: decode %q: %w", op, flat[i], err)
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return id(&out[i]) < id(&out[j]) })
	return out, nil
}

// ReportChannels replaces the node's channel counts, kept for ttl.
func (d *Directory) ReportChannels(ctx context.Context, nodeID string, counts map[string]int, ttl time.Duration) error {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	args := make([]any, 0, 2+2*len(counts))
	args = append(args, nodeID, max(ms(ttl), 1))
	for ch, n := range counts {
		args = append(args, ch, n)
	}
	err := reportChannelsScript.Run(ctx, d.rdb, []string{d.keys.channels(nodeID), d.keys.channelsZ()}, args...).Err()
	return d.wrap("report channels", err)
}

// Channels sums the live nodes' counts of the keys matching pattern
// (path.Match over the whole key).
func (d *Directory) Channels(ctx context.Context, pattern string) (map[string]int, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("channels pattern %q: %w", pattern, err)
	}
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	flat, err := channelsScript.Run(ctx, d.rdb, []string{d.keys.channelsZ()}, d.keys.channelsPrefix()).StringSlice()
	if err != nil {
		return nil, d.wrap("channels", err)
	}
	out := make(map[string]int)
	for i := 0; i+1 < len(flat); i += 2 {
		if pattern != "" {
			if ok, _ := path.Match(pattern, flat[i]); !ok {
				continue
			}
		}
		n, err := strconv.Atoi(flat[i+1])
		if err != nil {
			return nil, fmt.Errorf("redis channels: bad count %q: %w", flat[i+1], err)
		}
		out[flat[i]] += n
	}
	return out, nil
}

// UpdateSeries publishes this node's recent activity for ttl, beside the
// node table and with the same expiry rules.
func (d *Directory) UpdateSeries(ctx context.Context, s pubsub.NodeSeries, ttl time.Duration) error {
	return d.putTTL(ctx, "update series", []string{d.keys.series(), d.keys.seriesZ()}, s.Node, s, ttl)
}

// Series returns the recent activity of the nodes whose share has not
// expired, by node id.
func (d *Directory) Series(ctx context.Context) ([]pubsub.NodeSeries, error) {
	return readTTL(ctx, d.conn, "series", []string{d.keys.series(), d.keys.seriesZ()},
		func(s *pubsub.NodeSeries) string { return s.Node })
}
