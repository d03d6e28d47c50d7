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
	count   int    // subscribed keys; guarded by subscriber.mu

	mu     sync.Mutex
	ps     *goredis.PubSub // replaced after a failure
	closed bool

	readerOnce sync.Once
	down       atomic.Pointer[error] // why the connection is down; nil when up
}

func (s *subscriber) newShard(addr string, sharded bool) *shard {
	sh := &shard{addr: addr, sharded: sharded}
	sh.ps = sh.newPubSub(s.c.rdb)
	return sh
}

func (sh *shard) newPubSub(rdb goredis.UniversalClient) *goredis.PubSub {
	if sh.sharded {
		return rdb.SSubscribe(context.Background())
	}
	return rdb.Subscribe(context.Background())
}

func (sh *shard) current() *goredis.PubSub {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.ps
}

func (sh *shard) close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.closed = true
	_ = sh.ps.Close()
}

func (sh *shard) downErr() error {
	if p := sh.down.Load(); p != nil {
		return *p
	}
	return nil
}

// subscribe sends SUBSCRIBE, or one SSUBSCRIBE per slot (Redis refuses
// topics of several slots in one), without waiting for confirmations.
func (sh *shard) subscribe(ctx context.Context, ps *goredis.PubSub, topics []string) error {
	if !sh.sharded {
		for chunk := range chunks(topics, subscribeBatch) {
			if err := ps.Subscribe(ctx, chunk...); err != nil {
				return err
			}
		}
		return nil
	}
	bySlot := make(map[int][]string)
	for _, t := range topics {
		bySlot[slot(t)] = append(bySlot[slot(t)], t)
	}
	for _, group := range bySlot {
		if err := ps.SSubscribe(ctx, group...); err != nil {
			return err
		}
	}
	return nil
}

// unsubscribe is subscribe's reverse (SUNSUBSCRIBE is per slot too).
func (sh *shard) unsubscribe(ctx context.Context, topics []string) error {
	ps := sh.current()
	if !sh.sharded {
		var firstErr error
		for chunk := range chunks(topics, subscribeBatch) {
			if err := ps.Unsubscribe(ctx, chunk...); err != nil && firstErr == nil {
				firstErr = err
			}
		}
		return firstErr
	}
	var firstErr error
	for _, t := range topics {
		if err := ps.SUnsubscribe(ctx, t); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// replace swaps the shard's connection for a new one subscribed to every
// topic the shard carries. Replacing rather than letting go-redis
// reconnect lets a Cluster shard resubscribe slot by slot, and gets rid of
// a silent connection (a missed pong) that go-redis would keep.
//
// It first waits for the command connections to answer: the first message
// on the new connection calls HandleReconnect, and every stream then reads
// history through them at once, a stream whose read fails being ended.
// The pub/sub connection comes from a pool of its own and is back as soon
// as Redis is, but after PoolSize failed dials go-redis's command pool
// fails fast with the last dial error until a background probe, once a
// second, gets through: without this wait a restart that follows a busy
// outage ends every stream of the node.
func (s *subscriber) replace(ctx context.Context, sh *shard) error {
	pctx, pcancel := context.WithTimeout(ctx, s.c.opts.Timeout)
	addr := ""
	if sh.sharded {
		addr = sh.addr
	}
	err := s.c.pingMasters(pctx, addr)
	pcancel()
	if err != nil {
		return s.c.wrap("ping before resubscribing", err)
	}
	sh.mu.Lock()
	if sh.closed {
		sh.mu.Unlock()
		return goredis.ErrClosed
	}
	old := sh.ps
	sh.ps = sh.newPubSub(s.c.rdb)
	ps := sh.ps
	sh.mu.Unlock()
	_ = old.Close()
	// Snapshot after the swap: a concurrent Subscribe added its keys
	// before taking the (old) connection, so they are in the snapshot;
	// later ones use the new connection.
	topics := s.topicsOf(sh)
	ctx, cancel := s.c.opCtx(ctx)
	defer cancel()
	return sh.subscribe(ctx, ps, topics)
}

// read is the shard's only reader: it decodes messages and calls the
// Handler in the order Redis sent them, which keeps each key's calls
// sequential and in offset order. After a failure it replaces the
// connection (what was published meanwhile is lost), and the first
// message on the new one calls HandleReconnect so that the node recovers
// its streams from history.
func (s *subscriber) read(sh *shard) {
	defer s.wg.Done()
	ctx := s.ctx
	log := s.c.log.With("shard", sh.addr)
	var (
		failures    int
		pingPending bool // a PING went out after an idle interval
		broken      bool // the connection must be replaced
	)
	fail := func(err error) bool {
		if sh.downErr() == nil {
			log.Warn("redis pub/sub connection lost", "error", err)
			sh.down.Store(&err)
		}
		broken, pingPending = true, false
		ok := sleep(ctx, backoff(failures, s.c.opts.Timeout))
		failures++
		return ok
	}
	for {
		if broken {
			if err := s.replace(ctx, sh); err != nil {
				if ctx.Err() != nil || errors.Is(err, goredis.ErrClosed) {
					return
				}
				if !fail(err) {
					return
				}
				continue
			}
			broken = false
		}
		ps := sh.current()
		msg, err := ps.ReceiveTimeout(ctx, s.c.opts.PingInterval)
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, goredis.ErrClosed) {
			sh.mu.Lock()
			closed, replaced := sh.closed, sh.ps != ps
			sh.mu.Unlock()
			if closed {
				return
			}
			if replaced {
				continue
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pingPending {
				// Idle: the pong to this PING (or any message) must come
				// within one more interval.
				pingPending = true
				perr := ps.Ping(ctx)
				if perr == nil {
					continue
				}
				err = perr
			}
			// A failed read, a failed PING, or a missed pong.
			if !fail(err) {
				return
			}
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
		switch m.Kind {
		case "subscribe", "ssubscribe":
			s.confirmed(m.Channel)
		case "sunsubscribe":
			// Unasked when the channel's slot left this master.
			s.slotMoved(sh, m.Channel)
		}
	case *goredis.Message:
		if m.Channel == s.c.keys.control() {
			s.h.HandleControl([]byte(m.Payload))
			return
		}
		if m.Channel == s.c.keys.watchNotice() {
			s.watch.flag(m.Payload)
			return
		}
		if project, ok := s.c.keys.projectOfWatchTopic(m.Channel); ok {
			if err := s.watch.deliver(project, m.Payload); err != nil {
				s.c.log.Error("drop undecodable watch message", "project", project, "error", err)
			}
			return
		}
		key, ok := s.c.keys.keyOfTopic(m.Channel)
		if !ok || !s.subscribed(key, sh) {
			return
		}
		if err := deliver(s.h, key, m.Payload); err != nil {
			s.c.log.Error("drop undecodable pub/sub message", "key", key, "error", err)
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
