package transport

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
	"github.com/rotor-rt/rotor/transport/apiclient"
)

// countingTransport counts the answers a publisher got that told it to
// retry, so the test knows the fault really happened.
type countingTransport struct {
	base     http.RoundTripper
	failures atomic.Int64 // 5xx answers and requests that got none
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil || resp.StatusCode >= 500 {
		c.failures.Add(1)
	}
	return resp, err
}

// TestRedisFrozenPublishOnce freezes Redis (SIGSTOP) under two nodes while
// publishers keep publishing through both with apiclient, which retries
// 112s and timeouts with one idempotency key per publication. Publishes
// the nodes gave up on still run when Redis resumes; the keys make their
// retries answer the same offset. History and a subscriber must hold
// every publication exactly once.
func TestRedisFrozenPublishOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	nodes := startNodes(t, srv.URL(), 2)
	const channel = roomNS + ":frozen"
	sub := openMany(t, newSSEClient(t), nodes[1:], channel, "f", 1)[0]
	waitSubs(t, []*rawSub{sub}, 0)

	ct := &countingTransport{base: http.DefaultTransport.(*http.Transport).Clone()}
	hc := &http.Client{Transport: ct}
	var clients []*apiclient.Client
	for _, n := range nodes {
		c, err := apiclient.New(n.url, "p-api-key", apiclient.Options{
			HTTPClient: hc, MaxAttempts: 100,
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 300 * time.Millisecond,
			AttemptTimeout: 2 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	t.Cleanup(hc.CloseIdleConnections)

	const total, freezeAt = 200, 40
	const freezeFor = 3 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 8 {
		wg.Go(func() {
			for n := range jobs {
				// Alternate nodes, as a load balancer would.
				c := clients[n%len(clients)]
				if _, err := c.Publish(ctx, apiclient.PublishRequest{Channel: channel, Data: map[string]int{"n": n}}); err != nil {
					t.Errorf("publish %d: %v", n, err)
					failed.Add(1)
				}
			}
		})
	}
	thawed := make(chan struct{})
	tick := time.NewTicker(10 * time.Millisecond) // 100 publications/s
	for n := 1; n <= total; n++ {
		<-tick.C
		if n == freezeAt {
			srv.Freeze()
			go func() {
				defer close(thawed)
				time.Sleep(freezeFor)
				srv.Thaw()
			}()
		}
		jobs <- n
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	<-thawed
	if failed.Load() > 0 {
		t.FailNow()
	}
	if ct.failures.Load() == 0 {
		t.Fatal("no publish failed while Redis was frozen: the test did not test retries")
	}
	t.Logf("%d failed attempts retried", ct.failures.Load())

	h, err := clients[0].History(ctx, apiclient.HistoryRequest{Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]uint64{}
	var inHistory []int
	for _, p := range h.Publications {
		n := decode[struct{ N int }](t, string(p.Data)).N
		if prev, dup := seen[n]; dup {
			t.Errorf("n=%d is in history twice, at offsets %d and %d", n, prev, p.Offset)
		}
		seen[n] = p.Offset
		inHistory = append(inHistory, n)
	}
	if len(h.Publications) != total || len(seen) != total {
		t.Fatalf("history has %d publications (%d distinct), want %d", len(h.Publications), len(seen), total)
	}
	waitSubs(t, []*rawSub{sub}, total)
	time.Sleep(200 * time.Millisecond) // any duplicate would be on its way
	got, _, _, bad := sub.state()
	if len(bad) > 0 {
		t.Fatalf("subscriber: %v", bad)
	}
	if !slices.Equal(got, inHistory) {
		t.Fatalf("subscriber got %d publications %v, want history's %d in its order", len(got), short(got), len(inHistory))
	}
}
