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

// health is what the engine last learnt about Redis, refreshed by a
// background ping, so that a readiness probe answers from memory at once
// whatever Redis does (down, or frozen and silent).
type health struct {
	lastGood atomic.Int64          // Unix ns of the last PING that answered; 0: none yet
	lastErr  atomic.Pointer[error] // the last PING's failure; nil after a success
}

// staleAfter is how old the last good PING may be before Readiness says
// not ready even without a failure reported: a PING that hangs past its
// own timeout, or a ping loop that stopped.
func (e *Engine) staleAfter() time.Duration {
	return 2*e.opts.PingInterval + e.opts.Timeout
}

// Readiness reports, without touching the network, whether the engine can
// serve: the last background PING (every PingInterval, bounded by
// Timeout) answered, no more than staleAfter ago, and every pub/sub
// connection is up. It is what /readyz asks; Ready asks Redis now.
func (e *Engine) Readiness() error {
	if err := e.lastPing(time.Now()); err != nil {
		return err
	}
	if err := e.subs.healthy(); err != nil {
		return fmt.Errorf("redis pub/sub: %w: %w", pubsub.ErrEngineDown, err)
	}
	return nil
}

// Ready asks Redis now whether it answers (within Timeout, and ctx), and
// reports whether the pub/sub connections are up. Probes that must answer
// at once use Readiness.
func (e *Engine) Ready(ctx context.Context) error {
	ctx, cancel := e.opCtx(ctx)
	defer cancel()
	if err := e.rdb.Ping(ctx).Err(); err != nil {
		return e.wrap("ping", err)
	}
	if err := e.subs.healthy(); err != nil {
		return fmt.Errorf("redis pub/sub: %w: %w", pubsub.ErrEngineDown, err)
	}
	return nil
}

func (e *Engine) lastPing(now time.Time) error {
	if p := e.health.lastErr.Load(); p != nil {
		return *p
	}
	last := e.health.lastGood.Load()
	if last == 0 {
		return fmt.Errorf("redis ping: %w: no answer yet", pubsub.ErrEngineDown)
	}
	if age := now.Sub(time.Unix(0, last)); age > e.staleAfter() {
		return fmt.Errorf("redis ping: %w: last answer %s ago", pubsub.ErrEngineDown, age.Round(time.Millisecond))
	}
	return nil
}

// ping asks every master (every shard on a Cluster) for a PONG and
// records the result.
func (e *Engine) ping(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	var err error
	if cc, ok := e.rdb.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *goredis.Client) error {
			return c.Ping(ctx).Err()
		})
	} else {
		err = e.rdb.Ping(ctx).Err()
	}
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return
		}
		err = e.wrap("ping", err)
		e.health.lastErr.Store(&err)
		return
	}
	e.health.lastGood.Store(time.Now().UnixNano())
	e.health.lastErr.Store(nil)
}

// pingLoop refreshes health every PingInterval until ctx ends.
func (e *Engine) pingLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.ping(ctx)
		}
	}
}
