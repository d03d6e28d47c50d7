package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotor-rt/rotor/pubsub"
)

// A Cluster slot that moves to another master (resharding, a failover)
// takes its shard channels with it: the old master ends their
// subscriptions by sending SUNSUBSCRIBE on its own, and go-redis does not
// follow. slotMoved notices, and follow subscribes the keys again on the
// master that owns them now, then has the node resync from history what
// was published while they were nowhere: the streams holding those keys
// when the Handler is a pubsub.KeyResyncer, every stream otherwise.

// slotMoved is called by sh's reader for a sunsubscribe of topic. A topic
// still subscribed on sh was not unsubscribed by this node (Unsubscribe
// forgets its keys before telling Redis): its slot left sh's master.
func (s *subscriber) slotMoved(sh *shard, topic string) {
	key, ok := s.c.keys.keyOfTopic(topic)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.keys[key] != sh {
		return
	}
	s.moved[key] = sh
	if !s.following {
		s.following = true
		s.wg.Add(1)
		go s.follow()
	}
}

// follow resubscribes the moved keys in batches until none is left.
func (s *subscriber) follow() {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		batch := s.moved
		s.moved = make(map[string]*shard)
		if len(batch) == 0 || s.stopped {
			s.following = false
			s.mu.Unlock()
			return
		}
		ctx := s.ctx
		s.mu.Unlock()
		if keys := s.resubscribeMoved(ctx, batch); len(keys) > 0 {
			s.c.log.Info("cluster slot moved: channels resubscribed on their new master, streams resync from history", "channels", len(keys))
			if kr, ok := s.h.(pubsub.KeyResyncer); ok {
				kr.HandleResync(keys)
			} else {
				s.h.HandleReconnect()
			}
		}
	}
}

// resubscribeMoved waits, a bounded time, for the Cluster's slot map to
// name other masters for the batch's keys, moves them to those masters'
// shards and subscribes them there. It returns the keys that moved.
func (s *subscriber) resubscribeMoved(ctx context.Context, batch map[string]*shard) []string {
	cc, ok := s.c.rdb.(*goredis.ClusterClient)
	if !ok {
		return nil
	}
	// The node that told us may know before the others: reload the slot
	// map until it agrees the slots left, or give up waiting and trust it.
	deadline := time.Now().Add(5 * s.c.opts.Timeout)
	for attempt := 0; ; attempt++ {
		cc.ReloadState(ctx)
		if !sleep(ctx, backoff(attempt, s.c.opts.Timeout)) {
			return nil
		}
		if s.slotMapMoved(ctx, cc, batch) || time.Now().After(deadline) {
			break
		}
	}

	s.mu.Lock()
	groups := make(map[*shard][]string)
	var moved []string
	for key, old := range batch {
		if s.stopped || s.keys[key] != old {
			continue // unsubscribed meanwhile
		}
		sh, err := s.shardFor(ctx, key)
		if err != nil {
			// Keep it where it was; the next sunsubscribe or reconnect
			// of that shard retries.
			s.c.log.Warn("cluster slot moved: no master for channel", "key", key, "error", err)
			continue
		}
		old.count--
		s.keys[key] = sh
		sh.count++
		groups[sh] = append(groups[sh], s.c.keys.topic(key))
		moved = append(moved, key)
		if old.count == 0 && s.shards[old.addr] == old && old != sh {
			delete(s.shards, old.addr)
			old.close()
		}
	}
	s.mu.Unlock()

	for sh, topics := range groups {
		for attempt := 0; ; attempt++ {
			err := s.subscribeTopics(ctx, sh, topics)
			if err == nil {
				break
			}
			s.c.log.Warn("cluster slot moved: resubscribe failed, retrying", "shard", sh.addr, "error", err)
			if !sleep(ctx, backoff(attempt, s.c.opts.Timeout)) {
				return moved
			}
		}
	}
	return moved
}

// slotMapMoved reports whether the client's slot map puts every key of
// batch on a master other than its old shard's.
func (s *subscriber) slotMapMoved(ctx context.Context, cc *goredis.ClusterClient, batch map[string]*shard) bool {
	for key, old := range batch {
		m, err := cc.MasterForKey(ctx, s.c.keys.topic(key))
		if err != nil || m.Options().Addr == old.addr {
			return false
		}
	}
	return true
}
