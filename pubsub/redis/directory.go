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
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode node info: %w", err)
	}
	err = addTTLScript.Run(ctx, d.rdb, []string{d.keys.nodes(), d.keys.nodesZ()}, info.ID, b, max(ms(ttl), 1)).Err()
	return d.wrap("update node", err)
}

// Nodes lists the nodes whose heartbeat has not expired, by id.
func (d *Directory) Nodes(ctx context.Context) ([]pubsub.NodeInfo, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	flat, err := readTTLScript.Run(ctx, d.rdb, []string{d.keys.nodes(), d.keys.nodesZ()}).StringSlice()
	if err != nil {
		return nil, d.wrap("nodes", err)
	}
	out := make([]pubsub.NodeInfo, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		var n pubsub.NodeInfo
		if err := json.Unmarshal([]byte(flat[i+1]), &n); err != nil {
			return nil, fmt.Errorf("redis nodes: decode %q: %w", flat[i], err)
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
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
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode node series: %w", err)
	}
	err = addTTLScript.Run(ctx, d.rdb, []string{d.keys.series(), d.keys.seriesZ()}, s.Node, b, max(ms(ttl), 1)).Err()
	return d.wrap("update series", err)
}

// Series returns the recent activity of the nodes whose share has not
// expired, by node id.
func (d *Directory) Series(ctx context.Context) ([]pubsub.NodeSeries, error) {
	ctx, cancel := d.opCtx(ctx)
	defer cancel()
	flat, err := readTTLScript.Run(ctx, d.rdb, []string{d.keys.series(), d.keys.seriesZ()}).StringSlice()
	if err != nil {
		return nil, d.wrap("series", err)
	}
	out := make([]pubsub.NodeSeries, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		var s pubsub.NodeSeries
		if err := json.Unmarshal([]byte(flat[i+1]), &s); err != nil {
			return nil, fmt.Errorf("redis series: decode %q: %w", flat[i], err)
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out, nil
}
