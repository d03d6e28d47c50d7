package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotor-rt/rotor/pubsub"
)

// subscribeBatch is how many topics go into one SUBSCRIBE command.
const subscribeBatch = 512

// subscriber holds this node's pub/sub connections: one for everything on
// plain Redis and Sentinel; on a Cluster one for the control topic
// (classic pub/sub) plus one per master for the channels' shard topics
// (SSUBSCRIBE), so that subscriptions follow local interest over few
// connections, never one per channel.
type subscriber struct {
	c *conn
	// watch is the Watcher's state: forwarded publications are handed to
	// it, and its topics ride on the control connection.
	watch *watches

	mu      sync.Mutex
	h       pubsub.Handler
	ctx     context.Context // Start's; nil before Start
	stopped bool
	keys    map[string]*shard // subscribed key → its shard
	control *shard            // carries the control topic (and every key off Cluster)
	shards  map[string]*shard // Cluster: master address → shard
	waiters map[string][]chan struct{}
	wg      sync.WaitGroup
	// moved holds keys whose Cluster slot left their shard's master,
	// waiting for follow (migrate.go), which runs while following.
	moved     map[string]*shard
	following bool
}

func newSubscriber(c *conn, watch *watches) *subscriber {
	return &subscriber{
		c:       c,
		watch:   watch,
		keys:    make(map[string]*shard),
		shards:  make(map[string]*shard),
		waiters: make(map[string][]chan struct{}),
		moved:   make(map[string]*shard),
	}
}

// start subscribes the control topic and starts the reader and the
// goroutine that closes everything when ctx ends.
func (s *subscriber) start(ctx context.Context, h pubsub.Handler) error {
	s.mu.Lock()
	// A Start that failed stopped what it began: begin afresh.
	s.h, s.ctx, s.stopped = h, ctx, false
	s.control = s.newShard("control", false)
	s.mu.Unlock()

	if err := s.subscribeTopics(ctx, s.control, []string{s.c.keys.control(), s.c.keys.watchNotice()}); err != nil {
		s.stop()
		return err
	}
	go func() {
		<-ctx.Done()
		s.stop()
	}()
	return nil
}

// stop closes every pub/sub connection; the readers then end.
func (s *subscriber) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	if s.control != nil {
		s.control.close()
	}
	for _, sh := range s.shards {
		sh.close()
	}
}

// healthy returns the reason a pub/sub connection is down, if one is.
func (s *subscriber) healthy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.control == nil {
		return errors.New("engine not started")
	}
	if s.stopped {
		return pubsub.ErrClosed
	}
	if err := s.control.downErr(); err != nil {
		return err
	}
	for _, sh := range s.shards {
		if err := sh.downErr(); err != nil {
			return err
		}
	}
	return nil
}

// Subscribe starts delivery of keys to the Handler; call it after Start.
// It returns once Redis confirmed every subscription, so that a
// publication made afterwards is delivered (the hub reads history after
// Subscribe and merges). On error no key of the call stays subscribed.
func (b *Broker) Subscribe(ctx context.Context, keys ...string) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	s := b.subs
	s.mu.Lock()
	if s.control == nil {
		s.mu.Unlock()
		return errors.New("redis subscribe: engine not started")
	}
	if s.stopped {
		s.mu.Unlock()
		return fmt.Errorf("redis subscribe: %w", pubsub.ErrClosed)
	}
	groups := make(map[*shard][]string)
	var added []string
	for _, key := range keys {
		if _, ok := s.keys[key]; ok {
			continue
		}
		sh, err := s.shardFor(ctx, key)
		if err != nil {
			s.mu.Unlock()
			b.Unsubscribe(context.WithoutCancel(ctx), added...) //nolint:errcheck // best effort undo
			return b.wrap("subscribe", err)
		}
		s.keys[key] = sh
		sh.count++
		added = append(added, key)
		groups[sh] = append(groups[sh], b.keys.topic(key))
	}
	s.mu.Unlock()

	for sh, topics := range groups {
		if err := s.subscribeTopics(ctx, sh, topics); err != nil {
			_ = b.Unsubscribe(context.WithoutCancel(ctx), added...)
			return err
		}
	}
	return nil
}

// Unsubscribe stops delivery of keys. Publications already in flight for
// them are dropped by the reader.
func (b *Broker) Unsubscribe(ctx context.Context, keys ...string) error {
	ctx, cancel := b.opCtx(ctx)
	defer cancel()
	s := b.subs
	s.mu.Lock()
	groups := make(map[*shard][]string)
	for _, key := range keys {
		sh, ok := s.keys[key]
		if !ok {
			continue
		}
		delete(s.keys, key)
		sh.count--
		groups[sh] = append(groups[sh], b.keys.topic(key))
	}
	s.mu.Unlock()

	var firstErr error
	for sh, topics := range groups {
		// A failure leaves nothing behind: the keys are gone from the
		// set a replaced connection resubscribes.
		if err := sh.unsubscribe(ctx, topics); err != nil && firstErr == nil {
			firstErr = b.wrap("unsubscribe", err)
		}
		s.mu.Lock()
		if sh.sharded && sh.count == 0 && s.shards[sh.addr] == sh {
			// An empty Cluster shard would reconnect to a random node:
			// drop it.
			delete(s.shards, sh.addr)
			sh.close()
		}
		s.mu.Unlock()
	}
	return firstErr
}

// shardFor returns the shard that carries key's topic, creating it. Call
// with s.mu held.
func (s *subscriber) shardFor(ctx context.Context, key string) (*shard, error) {
	if !s.c.cluster {
		return s.control, nil
	}
	cc, ok := s.c.rdb.(*goredis.ClusterClient)
	if !ok {
		return s.control, nil
	}
	master, err := cc.MasterForKey(ctx, s.c.keys.topic(key))
	if err != nil {
		return nil, fmt.Errorf("find master of %q: %w", key, err)
	}
	addr := master.Options().Addr
	if sh, ok := s.shards[addr]; ok {
		return sh, nil
	}
	sh := s.newShard(addr, true)
	s.shards[addr] = sh
	return sh, nil
}

// subscribeTopics sends SUBSCRIBE (or SSUBSCRIBE) in batches and waits
// for Redis to confirm every topic.
func (s *subscriber) subscribeTopics(ctx context.Context, sh *shard, topics []string) error {
	ctx, cancel := s.c.opCtx(ctx)
	defer cancel()
	waits := make([]chan struct{}, len(topics))
	s.mu.Lock()
	for i, t := range topics {
		waits[i] = make(chan struct{})
		s.waiters[t] = append(s.waiters[t], waits[i])
	}
	s.mu.Unlock()
	defer s.dropWaiters(topics, waits)

	if err := sh.subscribe(ctx, sh.current(), topics); err != nil {
		return s.c.wrap("subscribe", err)
	}
	// The reader starts after the first subscription so that a Cluster
	// shard connects to the master of its topics, not a random node.
	sh.readerOnce.Do(func() {
		s.wg.Add(1)
		go s.read(sh)
	})
	for _, w := range waits {
		select {
		case <-w:
		case <-ctx.Done():
			return s.c.wrap("subscribe: wait for confirmation", ctx.Err())
		}
	}
	return nil
}

func (s *subscriber) dropWaiters(topics []string, waits []chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, t := range topics {
		list := s.waiters[t]
		for j, w := range list {
			if w == waits[i] {
				list = append(list[:j], list[j+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(s.waiters, t)
		} else {
			s.waiters[t] = list
		}
	}
}

// confirmed wakes whoever waits for topic's subscription.
func (s *subscriber) confirmed(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.waiters[topic] {
		select {
		case <-w:
		default:
			close(w)
		}
	}
}

// topicsOf lists the topics sh carries.
func (s *subscriber) topicsOf(sh *shard) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var topics []string
	if sh == s.control {
		topics = append(topics, s.c.keys.control(), s.c.keys.watchNotice())
		for _, p := range s.watch.local() {
			topics = append(topics, s.c.keys.watchTopic(p))
		}
	}
	for key, ksh := range s.keys {
		if ksh == sh {
			topics = append(topics, s.c.keys.topic(key))
		}
	}
	return topics
}

// subscribed reports whether key is still subscribed on sh: messages that
// were in flight when it was unsubscribed are dropped.
func (s *subscriber) subscribed(key string, sh *shard) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[key] == sh
}

func chunks(list []string, n int) func(yield func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(list) > 0 {
			k := min(n, len(list))
			if !yield(list[:k]) {
				return
			}
			list = list[k:]
		}
	}
}

// backoff returns the wait before the attempt-th reconnection check.
func backoff(attempt int, ceiling time.Duration) time.Duration {
	d := 50 * time.Millisecond << min(attempt, 6)
	return min(d, ceiling)
}
