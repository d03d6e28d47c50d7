package transport

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/hooks"
)

// TestEventsHookMetrics: with the events hook stalled, publications keep
// succeeding, the queued bytes stay within hooks.events_queue_bytes, and
// the drops and the hook's timed-out calls show in the node's metrics.
func TestEventsHookMetrics(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	be := startBackend(t, func(_ int, _ []byte, _ http.ResponseWriter) {
		select {
		case <-stop:
		case <-time.After(30 * time.Second):
		}
	})
	t.Cleanup(func() { close(stop) })
	const bound = 64 << 10
	s := startServer(t, func(o *Options, p *structure.Project) {
		p.EventsHookURL = be.url
		o.EventsQueueBytes = bound
		o.HookTimeout = time.Second
		o.HookRetries = -1
	})
	// What a scrape of /metrics would show.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.node.Collectors()...)
	metric := func(name, label, value string) float64 {
		t.Helper()
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() != name {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == label && lp.GetValue() == value {
						return m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
					}
				}
				if label == "" {
					return m.GetGauge().GetValue()
				}
			}
		}
		return 0
	}
	data := strings.Repeat("x", 4<<10)
	for range 100 {
		s.publish("news", data)
		if q := metric("rotor_events_hook_queued_bytes", "", ""); q > bound {
			t.Fatalf("%v bytes queued, over %d", q, bound)
		}
	}
	// Nothing is delivered, so all but what fits in the bound is dropped:
	// for want of room, or (on a slow machine) as batches whose one
	// attempt timed out meanwhile.
	full := metric("rotor_events_hook_dropped_total", "reason", hooks.DropQueueFull)
	exhausted := metric("rotor_events_hook_dropped_total", "reason", hooks.DropRetriesExhausted)
	if want := float64(100 - bound/(4<<10)); full == 0 || full+exhausted < want {
		t.Fatalf("drops: %v queue_full, %v retries_exhausted; want queue_full and at least %v in all", full, exhausted, want)
	}
	eventually(t, "a timed-out call in the latency histogram and its batch dropped", func() bool {
		return metric("rotor_hook_duration_seconds", "hook", "events") > 0 &&
			metric("rotor_events_hook_dropped_total", "reason", hooks.DropRetriesExhausted) > 0
	})
}
