package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

var _ pubsub.SeriesDirectory = (*Engine)(nil)

// UpdateSeries publishes this node's recent activity for ttl, beside the
// node table and with the same expiry rules.
func (e *Engine) UpdateSeries(ctx context.Context, s pubsub.NodeSeries, ttl time.Duration) error {
	ctx, cancel := e.opCtx(ctx)
	defer cancel()
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode node series: %w", err)
	}
	err = addTTLScript.Run(ctx, e.rdb, []string{e.keys.series(), e.keys.seriesZ()}, s.Node, b, max(ms(ttl), 1)).Err()
	return e.wrap("update series", err)
}

// Series returns the recent activity of the nodes whose share has not
// expired, by node id.
func (e *Engine) Series(ctx context.Context) ([]pubsub.NodeSeries, error) {
	ctx, cancel := e.opCtx(ctx)
	defer cancel()
	flat, err := readTTLScript.Run(ctx, e.rdb, []string{e.keys.series(), e.keys.seriesZ()}).StringSlice()
	if err != nil {
		return nil, e.wrap("series", err)
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
