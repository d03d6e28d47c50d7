package redis

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotor-rt/rotor/pubsub"
)

// Health is what the engine last learnt about Redis, refreshed by a
// background ping (Engine.Start runs it), so that a readiness probe
// answers from memory at once whatever Redis does (down, or frozen and
// silent). It is the engine's pubsub.HealthChecker too.
type Health struct {
	*conn
	subs *subscriber

	lastGood atomic.Int64          // Unix ns of the last PING that answered; 0: none yet
	lastErr  atomic.Pointer[error] // the last PING's failure; nil after a success
}

// staleAfter is how old the last good PING may be before Readiness says
// not ready even without a failure reported: a PING that hangs past its
// own timeout, or a ping loop that stopped.
func (h *Health) staleAfter() time.Duration {
	return 2*h.opts.PingInterval + h.opts.Timeout
}

// Readiness reports, without touching the network, whether the engine can
// serve: the last background PING (every PingInterval, bounded by
// Timeout) answered, no more than staleAfter ago, and every pub/sub
// connection is up. It is what /readyz asks; Ready asks Redis now.
func (h *Health) Readiness() error {
	if err := h.lastPing(time.Now()); err != nil {
		return err
	}
	if err := h.subs.healthy(); err != nil {
		return fmt.Errorf("redis pub/sub: %w: %w", pubsub.ErrEngineDown, err)
	}
	return nil
}

// Ready asks Redis now whether it answers (within Timeout, and ctx), and
// reports whether the pub/sub connections are up. Probes that must answer
// at once use Readiness.
func (h *Health) Ready(ctx context.Context) error {
	ctx, cancel := h.opCtx(ctx)
	defer cancel()
	if err := h.rdb.Ping(ctx).Err(); err != nil {
		return h.wrap("ping", err)
	}
	if err := h.subs.healthy(); err != nil {
		return fmt.Errorf("redis pub/sub: %w: %w", pubsub.ErrEngineDown, err)
	}
	return nil
}

func (h *Health) lastPing(now time.Time) error {
	if p := h.lastErr.Load(); p != nil {
		return *p
	}
	last := h.lastGood.Load()
	if last == 0 {
		return fmt.Errorf("redis ping: %w: no answer yet", pubsub.ErrEngineDown)
	}
	if age := now.Sub(time.Unix(0, last)); age > h.staleAfter() {
		return fmt.Errorf("redis ping: %w: last answer %s ago", pubsub.ErrEngineDown, age.Round(time.Millisecond))
	}
	return nil
}

// pingMasters sends a PING through the command connections to every
// master, or on a Cluster only to the one at addr when addr is not "",
// and returns the first failure.
func (c *conn) pingMasters(ctx context.Context, addr string) error {
	cc, ok := c.rdb.(*goredis.ClusterClient)
	if !ok {
		return c.rdb.Ping(ctx).Err()
	}
	return cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		if addr != "" && m.Options().Addr != addr {
			return nil
		}
		return m.Ping(ctx).Err()
	})
}

// ping asks every master (every shard on a Cluster) for a PONG and
// records the result.
func (h *Health) ping(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, h.opts.Timeout)
	defer cancel()
	if err := h.pingMasters(ctx, ""); err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return
		}
		err = h.wrap("ping", err)
		h.lastErr.Store(&err)
		return
	}
	h.lastGood.Store(time.Now().UnixNano())
	h.lastErr.Store(nil)
}

// pingLoop refreshes health every PingInterval until ctx ends.
func (h *Health) pingLoop(ctx context.Context) {
	t := time.NewTicker(h.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.ping(ctx)
		}
	}
}
