package redis

import (
	"strconv"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/enginetest"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// TestCluster runs the engine contract's suite on a Redis Cluster of three
// masters (sharded pub/sub, one slot per channel), and checks that pub/sub
// connections follow the shards.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	t.Run("conformance", func(t *testing.T) {
		t.Parallel()
		enginetest.Run(t, conformance(c.URL()))
	})
	t.Run("idempotency key in the channel's slot", func(t *testing.T) {
		t.Parallel()
		// A key in another slot than the channel's would fail with
		// CROSSSLOT inside the publish script.
		e := newEngine(t, c.URL(), "")
		opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute, IdempotencyKey: "retry-1"}
		for i := range 10 {
			k := "p|idem" + strconv.Itoa(i)
			first, err := e.Broker().Publish(t.Context(), k, data(1), opts)
			if err != nil {
				t.Fatal(err)
			}
			again, err := e.Broker().Publish(t.Context(), k, data(1), opts)
			if err != nil || again != first {
				t.Fatalf("%s: second publish = %v, %v; want %v", k, again, err, first)
			}
		}
	})
	t.Run("one pub/sub connection per shard", func(t *testing.T) {
		t.Parallel()
		e, rec := startEngine(t, c.URL(), "")
		if !e.cluster {
			t.Fatal("engine not in cluster mode")
		}
		ctx := t.Context()
		keys := make([]string, 20)
		for i := range keys {
			keys[i] = "p|k" + strconv.Itoa(i)
		}
		if err := e.Broker().Subscribe(ctx, keys...); err != nil {
			t.Fatal(err)
		}
		e.subs.mu.Lock()
		shards := len(e.subs.shards)
		e.subs.mu.Unlock()
		if shards != 3 {
			t.Errorf("%d shard connections for 20 keys on 3 masters, want 3", shards)
		}
		for _, k := range keys {
			if _, err := e.Broker().Publish(ctx, k, data(1), pubsub.PublishOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range keys {
			eventually(t, "delivery on "+k, func() bool { return rec.pubCount(k) == 1 })
		}
		if err := e.Broker().Unsubscribe(ctx, keys...); err != nil {
			t.Fatal(err)
		}
		e.subs.mu.Lock()
		shards = len(e.subs.shards)
		e.subs.mu.Unlock()
		if shards != 0 {
			t.Errorf("%d shard connections left after unsubscribing every key", shards)
		}
	})
}

// TestSentinel runs the engine contract's suite through Sentinel.
func TestSentinel(t *testing.T) {
	t.Parallel()
	master := startServer(t)
	sentinel := redistest.StartSentinel(t, master)
	enginetest.Run(t, conformance(sentinel.SentinelURL()))
}
