package transport

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/r3labs/sse/v2"
	backoff "gopkg.in/cenkalti/backoff.v1"
)

// resumingClient wraps the r3labs/sse client — an independent parser of
// our streams — in a reconnect loop of its own: the library's loop can
// stop silently on a clean close (see docs/architecture.md). The library
// sends Last-Event-ID from the last event id it saw.
type resumingClient struct {
	c       *sse.Client
	mu      sync.Mutex
	events  []*sse.Event
	connect int
}

func newResumingClient(url string) *resumingClient {
	c := sse.NewClient(url)
	c.ReconnectStrategy = &backoff.StopBackOff{}
	return &resumingClient{c: c}
}

// run subscribes again after every end of stream until ctx is done.
func (r *resumingClient) run(ctx context.Context) {
	for ctx.Err() == nil {
		r.mu.Lock()
		r.connect++
		r.mu.Unlock()
		_ = r.c.SubscribeRawWithContext(ctx, func(ev *sse.Event) {
			cp := &sse.Event{ID: append([]byte(nil), ev.ID...), Event: append([]byte(nil), ev.Event...), Data: append([]byte(nil), ev.Data...)}
			r.mu.Lock()
			r.events = append(r.events, cp)
			r.mu.Unlock()
		})
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *resumingClient) snapshot() ([]*sse.Event, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*sse.Event(nil), r.events...), r.connect
}

// TestSecondParserResumes: the r3labs client, reconnecting by itself with
// Last-Event-ID after the server ends its stream three times, receives
// every publication of two channels once and in order.
func TestSecondParserResumes(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rc := newResumingClient(s.url + "/connection/p/sse?" + q("token", s.token("r3"), "channel", "a", "channel", "b"))
	done := make(chan struct{})
	go func() { defer close(done); rc.run(ctx) }()
	waitFor(t, func() bool { evs, _ := rc.snapshot(); return len(evs) >= 2 }) // two sub events
	const rounds = 60
	for n := 1; n <= rounds; n++ {
		s.publish("a", map[string]int{"n": n})
		s.publish("b", map[string]int{"n": n})
		if n%20 == 0 {
			_, before := rc.snapshot()
			s.api("disconnect", map[string]any{"user": "r3", "reconnect": true}, nil)
			waitFor(t, func() bool { _, c := rc.snapshot(); return c > before })
		}
	}
	waitFor(t, func() bool {
		evs, _ := rc.snapshot()
		count := 0
		for _, ev := range evs {
			if string(ev.Event) == "pub" {
				count++
			}
		}
		return count >= 2*rounds
	})
	cancel()
	<-done
	evs, connects := rc.snapshot()
	if connects < 4 {
		t.Errorf("connected %d times, want at least 4 (3 server disconnects)", connects)
	}
	next := map[string]int{"a": 1, "b": 1}
	for _, ev := range evs {
		if string(ev.Event) != "pub" {
			continue
		}
		var p pubData
		if err := json.Unmarshal(ev.Data, &p); err != nil {
			t.Fatal(err)
		}
		if p.Data.N != next[p.Channel] {
			t.Fatalf("%s: got n=%d, want %d", p.Channel, p.Data.N, next[p.Channel])
		}
		next[p.Channel]++
	}
	if next["a"] != rounds+1 || next["b"] != rounds+1 {
		t.Fatalf("received up to %v, want %d each", next, rounds)
	}
}

// waitFor polls cond for up to 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
