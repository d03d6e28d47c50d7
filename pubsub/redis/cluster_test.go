package redis

import (
	"strconv"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// TestCluster runs the two-engine test and the shared-state checks on a
// Redis Cluster of three masters: sharded pub/sub, one slot per channel.
func TestCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	t.Run("two engines", func(t *testing.T) { twoEngineTest(t, c.URL()) })
	t.Run("idempotency key in the channel's slot", func(t *testing.T) {
		// A key in another slot than the channel's would fail with
		// CROSSSLOT inside the publish script.
		e := newEngine(t, c.URL(), "")
		opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute, IdempotencyKey: "retry-1"}
		for i := range 10 {
			k := "p|idem" + strconv.Itoa(i)
			first, err := e.Publish(t.Context(), k, data(1), opts)
			if err != nil {
				t.Fatal(err)
			}
			again, err := e.Publish(t.Context(), k, data(1), opts)
			if err != nil || again != first {
				t.Fatalf("%s: second publish = %v, %v; want %v", k, again, err, first)
			}
		}
	})
	t.Run("history and presence", func(t *testing.T) {
		e, rec := startEngine(t, c.URL(), "")
		if !e.cluster {
			t.Fatal("engine not in cluster mode")
		}
		ctx := t.Context()
		keys := make([]string, 20)
		for i := range keys {
			keys[i] = "p|k" + strconv.Itoa(i)
		}
		if err := e.Subscribe(ctx, keys...); err != nil {
			t.Fatal(err)
		}
		e.subs.mu.Lock()
		shards := len(e.subs.shards)
		e.subs.mu.Unlock()
		if shards != 3 {
			t.Errorf("%d shard connections for 20 keys on 3 masters, want 3", shards)
		}
		for _, k := range keys {
			if _, err := e.Publish(ctx, k, data(1), pubsub.PublishOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, k := range keys {
			eventually(t, "delivery on "+k, func() bool { return rec.pubCount(k) == 1 })
		}
		if err := e.Unsubscribe(ctx, keys...); err != nil {
			t.Fatal(err)
		}
		e.subs.mu.Lock()
		shards = len(e.subs.shards)
		e.subs.mu.Unlock()
		if shards != 0 {
			t.Errorf("%d shard connections left after unsubscribing every key", shards)
		}
		for i := 1; i <= 5; i++ {
			if _, err := e.Publish(ctx, "p|c", data(i), pubsub.PublishOptions{HistorySize: 3, HistoryTTL: time.Minute}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := e.History(ctx, "p|c", pubsub.HistoryRequest{Limit: -1})
		if err != nil || len(res.Publications) != 3 || res.Position.Offset != 5 {
			t.Fatalf("history %+v, %v", res, err)
		}
		if err := e.AddPresence(ctx, "p|c", &pubsub.ClientInfo{Client: "c1", User: "u"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if st, err := e.PresenceStats(ctx, "p|c"); err != nil || st.Clients != 1 {
			t.Fatalf("stats %+v, %v", st, err)
		}
		if err := e.UpdateNode(ctx, pubsub.NodeInfo{ID: "n1"}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := e.ReportChannels(ctx, "n1", map[string]int{"p|c": 1}, time.Minute); err != nil {
			t.Fatal(err)
		}
		if got, err := e.Channels(ctx, "*"); err != nil || got["p|c"] != 1 {
			t.Fatalf("channels %v, %v", got, err)
		}
		if err := e.Revoke(ctx, "p|u", time.Now(), time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := e.Ready(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSentinel runs the two-engine test through Sentinel.
func TestSentinel(t *testing.T) {
	t.Parallel()
	master := startServer(t)
	sentinel := redistest.StartSentinel(t, master)
	twoEngineTest(t, sentinel.SentinelURL())
}
