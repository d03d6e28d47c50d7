package transport

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/redis"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

var _ node.ProjectWatcher = (*redis.Watcher)(nil)

// TestRedisWatchSeesCluster: the admin live watch on node A sees every
// publication of the project made through node B — to a channel whose
// only subscribers are on B, and to a channel nobody subscribes to —
// on one Redis and on a Cluster of three masters.
func TestRedisWatchSeesCluster(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		url  func(t *testing.T) string
	}{
		{"redis", func(t *testing.T) string { return redistest.Start(t).URL() }},
		{"cluster", func(t *testing.T) string { return redistest.StartCluster(t, 3).URL() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nodes := startNodes(t, tc.url(t), 2)
			a, b := nodes[0], nodes[1]
			const subscribed, lonely = roomNS + ":onb", roomNS + ":nobody"
			subs := openMany(t, newSSEClient(t), []*testServer{b}, subscribed, "u", 2)
			waitSubs(t, subs, 0)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			pubs, err := a.node.node.Admin().Watch(ctx, "p")
			if err != nil {
				t.Fatal(err)
			}
			seen := make(map[string][]int)
			next := func(within time.Duration) *pubsub.Publication {
				select {
				case pub := <-pubs:
					return pub
				case <-time.After(within):
					return nil
				}
			}
			record := func(pub *pubsub.Publication) {
				var d struct{ N int }
				if err := json.Unmarshal(pub.Data, &d); err != nil {
					t.Fatalf("watched data %s: %v", pub.Data, err)
				}
				seen[pub.Channel] = append(seen[pub.Channel], d.N)
			}
			// The watch is announced to B when Watch returns; B takes
			// it up as soon as the notice arrives.
			deadline := time.Now().Add(5 * time.Second)
			for n := 1; ; n++ {
				b.publish(roomNS+":warmup", map[string]int{"n": n})
				if pub := next(100 * time.Millisecond); pub != nil {
					record(pub)
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the watch on A never saw a publication made on B")
				}
			}
			for n := 1; n <= 5; n++ {
				b.publish(subscribed, map[string]int{"n": n})
				b.publish(lonely, map[string]int{"n": n})
			}
			for len(seen[subscribed]) < 5 || len(seen[lonely]) < 5 {
				pub := next(5 * time.Second)
				if pub == nil {
					t.Fatalf("watch saw %v, want 5 publications of %s and of %s", seen, subscribed, lonely)
				}
				record(pub)
			}
			for _, ch := range []string{subscribed, lonely} {
				if !equalInts(seen[ch], seq(1, 5)) {
					t.Errorf("watch saw %v on %s, want %v", seen[ch], ch, seq(1, 5))
				}
			}
			// A channel with subscribers on A is not delivered twice
			// (once by the hub, once by the watch topic).
			local := openMany(t, newSSEClient(t), []*testServer{a}, subscribed, "ua", 1)
			waitSubs(t, local, 0)
			b.publish(subscribed, map[string]int{"n": 6})
			if pub := next(5 * time.Second); pub == nil || pub.Channel != subscribed {
				t.Fatalf("watch got %+v, want %s n=6", pub, subscribed)
			}
			if pub := next(300 * time.Millisecond); pub != nil {
				t.Fatalf("watch got a second publication %s %s", pub.Channel, pub.Data)
			}
		})
	}
}
