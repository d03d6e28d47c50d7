package redis


import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// shard is one pub/sub connection and its reader.
type shard struct {
	addr    string // Cluster master address, or "control"
	sharded bool   // SSUBSCRIBE rather than SUBSCRIBE
	ps      *goredis.PubSub
	count   int // subscribed keys; guarded by subscriber.mu

	readerOnce sync.Once
	down       atomic.Pointer[error] // why the connection is down; nil when up
}

func (s *subscriber) newShard(addr string, sharded bool) *shard {
	sh := &shard{addr: addr, sharded: sharded}
	if sharded {
		sh.ps = s.e.rdb.SSubscribe(context.Background())
	} else {
		sh.ps = s.e.rdb.Subscribe(context.Background())
	}
	return sh
}

func (sh *shard) downErr() error {
	if p := sh.down.Load(); p != nil {
		return *p
	}
	return nil
}

// read is the shard's only reader: it decodes messages and calls the
// Handler in the order Redis sent them, which keeps each key's calls
// sequential and in offset order. go-redis reconnects and resubscribes by
// itself when a Receive fails; what was published meanwhile is lost, so
// after any failure the first successful Receive calls HandleReconnect and
// the node recovers its streams from history.
func (s *subscriber) read(sh *shard) {
	defer s.wg.Done()
	ctx := s.ctx
	log := s.e.log.With("shard", sh.addr)
	var (
		failures    int
		pingPending bool // a PING went out after an idle interval
	)
	for {
		msg, err := sh.ps.ReceiveTimeout(ctx, s.e.opts.PingInterval)
		if ctx.Err() != nil || errors.Is(err, goredis.ErrClosed) {
			return
		}
		if err != nil {
			var ne net.Error
			timeout := errors.As(err, &ne) && ne.Timeout()
			if timeout && !pingPending {
				// Idle: the pong to this PING (or any message) must come
				// within one more interval.
				pingPending = true
				perr := sh.ps.Ping(ctx)
				if perr == nil {
					continue
				}
				err = perr
			}
			// A failed read, a failed PING, or a missed pong. go-redis
			// replaces broken connections on the next Receive; a silent
			// one stays until TCP keepalive breaks it, and Ready reports
			// it meanwhile.
			if sh.downErr() == nil {
				log.Warn("redis pub/sub connection lost", "error", err)
				sh.down.Store(&err)
			}
			pingPending = false
			if !sleep(ctx, backoff(failures, s.e.opts.Timeout)) {
				return
			}
			failures++
			continue
		}
		pingPending = false
		failures = 0
		if sh.downErr() != nil {
			sh.down.Store(nil)
			log.Info("redis pub/sub connection restored")
			s.h.HandleReconnect()
		}
		s.dispatch(sh, msg)
	}
}

// dispatch hands one pub/sub message to the Handler.
func (s *subscriber) dispatch(sh *shard, msg any) {
	switch m := msg.(type) {
	case *goredis.Subscription:
		if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
			s.confirmed(m.Channel)
		}
	case *goredis.Message:
		if m.Channel == s.e.keys.control() {
			s.h.HandleControl([]byte(m.Payload))
			return
		}
		key, ok := s.e.keys.keyOfTopic(m.Channel)
		if !ok || !s.subscribed(key, sh) {
			return
		}
		if err := deliver(s.h, key, m.Payload); err != nil {
			s.e.log.Error("drop undecodable pub/sub message", "key", key, "error", err)
		}
	}
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
