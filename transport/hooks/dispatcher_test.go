package hooks

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"
)

// eventsOf decodes the events of a recorded call.
func eventsOf(t *testing.T, c recorded) []Event {
	t.Helper()
	var b struct{ Events []Event }
	if err := json.Unmarshal(c.body, &b); err != nil {
		t.Fatalf("body %s: %v", c.body, err)
	}
	return b.Events
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startDispatcher runs d until the test ends and checks Run returns.
func startDispatcher(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

func resolveTo(url string) func(context.Context, string) (string, []byte, bool) {
	return func(_ context.Context, project string) (string, []byte, bool) {
		if project != "demo" {
			return "", nil, false
		}
		return url, testSecret, true
	}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDispatcherBatches(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, reply(`{}`))
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(srv.URL), FlushInterval: 200 * time.Millisecond, Logger: quietLogger(),
	})
	startDispatcher(t, d)
	for i := range 5 {
		d.Emit("demo", Event{Type: EventPublish, Time: int64(1000 + i), Channel: "a", Data: json.RawMessage(`{"n":1}`), Offset: uint64(i + 1)})
	}
	d.Emit("nohook", Event{Type: EventConnect, Time: 1, Client: "c"})
	waitFor(t, "one POST", func() bool { return len(srv.recorded()) == 1 })
	calls := srv.recorded()
	evs := eventsOf(t, calls[0])
	if len(evs) != 5 {
		t.Fatalf("batch of %d events, want 5: %s", len(evs), calls[0].body)
	}
	for i, ev := range evs {
		if ev.Offset != uint64(i+1) || ev.Type != EventPublish || ev.Time != int64(1000+i) {
			t.Fatalf("event %d: %+v", i, ev)
		}
	}
	want := `{"type":"publish","time":1000,"channel":"a","data":{"n":1},"offset":1}`
	var raw struct{ Events []json.RawMessage }
	_ = json.Unmarshal(calls[0].body, &raw)
	if string(raw.Events[0]) != want {
		t.Fatalf("wire form %s, want %s", raw.Events[0], want)
	}
	srv.checkSigned(t)
}

func TestDispatcherBatchSize(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, reply(`{}`))
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(srv.URL), BatchSize: 3, FlushInterval: time.Hour, Logger: quietLogger(),
	})
	startDispatcher(t, d)
	for i := range 6 {
		d.Emit("demo", Event{Type: EventJoin, Time: int64(i)})
	}
	// A full batch leaves at once, without waiting for the (hour-long)
	// flush interval.
	waitFor(t, "two POSTs", func() bool { return len(srv.recorded()) == 2 })
	for _, c := range srv.recorded() {
		if n := len(eventsOf(t, c)); n != 3 {
			t.Fatalf("batch of %d, want 3", n)
		}
	}
}

// TestDispatcherRetries: a hook that fails twice gets every event once in
// the end, in order.
func TestDispatcherRetries(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, func(w http.ResponseWriter, _ *http.Request, n int, _ []byte) {
		if n <= 2 {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte(`{}`))
	})
	var mu sync.Mutex
	var attempts []int
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(srv.URL), FlushInterval: 10 * time.Millisecond, BatchSize: 4, Logger: quietLogger(),
		Backoff: func(attempt int) time.Duration {
			mu.Lock()
			attempts = append(attempts, attempt)
			mu.Unlock()
			return 10 * time.Millisecond
		},
	})
	startDispatcher(t, d)
	const total = 10
	for i := range total {
		d.Emit("demo", Event{Type: EventPublish, Time: int64(i), Offset: uint64(i + 1)})
	}
	var delivered []uint64
	waitFor(t, "every event", func() bool {
		delivered = delivered[:0]
		for _, c := range srv.recorded()[min(2, len(srv.recorded())):] {
			for _, ev := range eventsOf(t, c) {
				delivered = append(delivered, ev.Offset)
			}
		}
		return len(delivered) >= total
	})
	for i, off := range delivered {
		if off != uint64(i+1) {
			t.Fatalf("delivered %v, want 1..%d once each in order", delivered, total)
		}
	}
	if len(delivered) != total {
		t.Fatalf("delivered %v", delivered)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(attempts) != "[1 2]" {
		t.Fatalf("backoff attempts %v, want [1 2]", attempts)
	}
	if d.Dropped() != 0 {
		t.Fatalf("dropped %d", d.Dropped())
	}
}

func TestDispatcherGivesUp(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(srv.URL), FlushInterval: time.Millisecond, Retries: 2, Logger: quietLogger(),
		Backoff: func(int) time.Duration { return time.Millisecond },
	})
	startDispatcher(t, d)
	d.Emit("demo", Event{Type: EventLeave, Time: 1})
	d.Emit("demo", Event{Type: EventLeave, Time: 2})
	waitFor(t, "the batch to be dropped", func() bool { return d.Dropped() == 2 })
	if n := len(srv.recorded()); n != 3 {
		t.Fatalf("%d attempts, want 1 + 2 retries", n)
	}
}

// TestDispatcherOverflow: with a stalled hook, Emit never blocks and the
// oldest events are the ones dropped; the batch in delivery keeps its room
// in the bound until it is done.
func TestDispatcherOverflow(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newHookServer(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		if n == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write([]byte(`{}`))
	})
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(srv.URL), Client: NewHTTPClient(time.Minute), FlushInterval: time.Millisecond,
		BatchSize: 1, QueueBytes: 10 * eventSize(&Event{Type: EventPublish}), Logger: quietLogger(),
	})
	startDispatcher(t, d)
	d.Emit("demo", Event{Type: EventPublish, Offset: 1})
	waitFor(t, "the first call to stall", func() bool { return len(srv.recorded()) == 1 })
	// The worker is stuck in the first call, which holds one event's room:
	// 100 more events overflow the 9 left. Emit returning at all shows it
	// does not block.
	for i := range 100 {
		d.Emit("demo", Event{Type: EventPublish, Offset: uint64(i + 2)})
	}
	if got := d.Dropped(); got != 91 {
		t.Fatalf("dropped %d, want 91", got)
	}
	close(release)
	waitFor(t, "the rest", func() bool { return len(srv.recorded()) == 10 })
	var got []uint64
	for _, c := range srv.recorded() {
		for _, ev := range eventsOf(t, c) {
			got = append(got, ev.Offset)
		}
	}
	want := []uint64{1, 93, 94, 95, 96, 97, 98, 99, 100, 101}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

// TestDispatcherStops: Run returns when its context ends, even with a call
// in flight and a retry pending, and leaves no goroutine behind.
func TestDispatcherStops(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, func(w http.ResponseWriter, r *http.Request, _ int, _ []byte) {
		<-r.Context().Done()
	})
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(srv.URL), Client: NewHTTPClient(time.Minute), FlushInterval: time.Millisecond, Logger: quietLogger(),
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(done)
	}()
	d.Emit("demo", Event{Type: EventConnect})
	d.Emit("other", Event{Type: EventConnect})
	waitFor(t, "a call in flight", func() bool { return len(srv.recorded()) == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	// Emit after Run ended still returns at once.
	d.Emit("demo", Event{Type: EventDisconnect})
}

func TestFullJitter(t *testing.T) {
	t.Parallel()
	b := FullJitter(100*time.Millisecond, 10*time.Second)
	for attempt := range 100 {
		limit := 10 * time.Second
		if attempt < 10 {
			limit = min(limit, 100*time.Millisecond<<max(attempt-1, 0))
		}
		if d := b(attempt); d < 0 || d >= limit {
			t.Fatalf("attempt %d: %v not in [0, %v)", attempt, d, limit)
		}
	}
}
