package hooks

import (
	"bytes"
	"net"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"
)

// countingObserver records what a Dispatcher reports.
type countingObserver struct {
	mu      sync.Mutex
	dropped map[string]int
	calls   int
	failed  int
	retries int
}

func (o *countingObserver) Dropped(reason string, events int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.dropped == nil {
		o.dropped = map[string]int{}
	}
	o.dropped[reason] += events
}

func (o *countingObserver) Called(_ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls++
	if err != nil {
		o.failed++
	}
}

func (o *countingObserver) Retrying() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries++
}

func (o *countingObserver) droppedFor(reason string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.dropped[reason]
}

// TestDispatcherBoundedInBytes: with the hook stalled, 100 MiB of events
// emitted for one project never hold more than the byte bound in the queue
// nor grow the heap by much more; the overflow is reported as queue_full
// and the hook's timeouts as calls that failed. Not parallel: it measures
// the heap.
func TestDispatcherBoundedInBytes(t *testing.T) {
	srv := newHookServer(t, func(_ http.ResponseWriter, r *http.Request, _ int, _ []byte) {
		<-r.Context().Done()
	})
	const bound = 1 << 20
	obs := &countingObserver{}
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(srv.URL), Client: NewHTTPClient(500 * time.Millisecond), FlushInterval: time.Millisecond,
		QueueBytes: bound, Retries: -1, Observer: obs, Logger: quietLogger(),
	})
	startDispatcher(t, d)

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const events, size = 2000, 50 << 10 // 100 MiB in all
	for i := range events {
		// Fresh data for each event, as publications would have.
		d.Emit("demo", Event{Type: EventPublish, Channel: "c", Data: bytes.Repeat([]byte{'1'}, size), Offset: uint64(i + 1)})
		if q := d.QueuedBytes(); q > bound {
			t.Fatalf("after %d events %d bytes queued, over the bound of %d", i+1, q, bound)
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %d KiB for %d MiB emitted, bound %d KiB", growth>>10, events*size>>20, bound>>10)
	if growth > 8*bound {
		t.Fatalf("heap grew by %d bytes with a queue bound of %d", growth, bound)
	}
	// All but what fits in the bound is dropped, most for want of room
	// (the rest as batches whose one attempt timed out).
	if got := obs.droppedFor(DropQueueFull); got < events/2 {
		t.Fatalf("queue_full drops %d, want most of %d", got, events)
	}
	want := events - bound/size - 1
	if got := int(d.Dropped()); got < want {
		t.Fatalf("Dropped() %d, want at least %d", got, want)
	}
	if got := obs.droppedFor(DropQueueFull) + obs.droppedFor(DropRetriesExhausted); got < want {
		t.Fatalf("observer told of %d drops, want at least %d", got, want)
	}
	waitFor(t, "a stalled call to time out", func() bool {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return obs.failed > 0
	})
	waitFor(t, "a batch to be given up", func() bool { return obs.droppedFor(DropRetriesExhausted) > 0 })
}

// TestDispatcherHookDown: a hook that refuses connections has its batches
// dropped as retries_exhausted once the retries are spent, and the room
// they held is given back.
func TestDispatcherHookDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	obs := &countingObserver{}
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(url), FlushInterval: time.Millisecond, Retries: 2, Observer: obs, Logger: quietLogger(),
		Backoff: func(int) time.Duration { return time.Millisecond },
	})
	startDispatcher(t, d)
	for range 5 {
		d.Emit("demo", Event{Type: EventJoin, Channel: "c"})
	}
	d.Emit("elsewhere", Event{Type: EventJoin, Channel: "c"}) // no hook
	waitFor(t, "the batches to be given up", func() bool {
		return obs.droppedFor(DropRetriesExhausted) == 5 && obs.droppedFor(DropNoHook) == 1
	})
	waitFor(t, "the room to be given back", func() bool { return d.QueuedBytes() == 0 })
}
