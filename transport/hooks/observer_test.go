package hooks

import (
	"net/http"
	"testing"
	"time"
)

// TestObserverSeesRetries: a hook that fails twice then answers is called
// three times, retried twice, and drops nothing; QueuedEvents is back to 0.
func TestObserverSeesRetries(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, func(w http.ResponseWriter, _ *http.Request, n int, _ []byte) {
		if n < 3 {
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	})
	obs := &countingObserver{}
	d := NewDispatcher(DispatcherOptions{
		Resolve: resolveTo(srv.URL), FlushInterval: time.Millisecond, Retries: 5, Logger: quietLogger(),
		Backoff: func(int) time.Duration { return time.Millisecond }, Observer: obs,
	})
	startDispatcher(t, d)
	d.Emit("demo", Event{Type: EventLeave, Time: 1})
	waitFor(t, "the batch to be delivered", func() bool { return len(srv.recorded()) == 3 && d.QueuedBytes() == 0 })
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.calls != 3 || obs.failed != 2 || obs.retries != 2 || len(obs.dropped) != 0 {
		t.Errorf("observer saw %d calls, %d failed, %d retries, drops %v; want 3, 2, 2, none",
			obs.calls, obs.failed, obs.retries, obs.dropped)
	}
	if n := d.QueuedEvents(); n != 0 {
		t.Errorf("QueuedEvents %d after delivery", n)
	}
}
