package transport

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-rt/rotor/admin"
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
	s := startServer(t, func(o *Options, p *admin.Project) {
		p.EventsHookURL = be.url
		o.EventsQueueBytes = bound
		o.HookTimeout = 200 * time.Millisecond
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
	if got := metric("rotor_events_hook_dropped_total", "reason", hooks.DropQueueFull); got < 100-bound/(4<<10) {
		t.Fatalf("queue_full drops %v, want most of 100", got)
	}
	eventually(t, "a timed-out call in the latency histogram and its batch dropped", func() bool {
		return metric("rotor_hook_duration_seconds", "hook", "events") > 0 &&
			metric("rotor_events_hook_dropped_total", "reason", hooks.DropRetriesExhausted) > 0
	})
}
