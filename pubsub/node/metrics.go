package node

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-rt/rotor/pubsub"
)

// nodeMetrics are the node's own Prometheus metrics; hub counters are
// read at scrape time (see Collectors) so the hot path pays nothing.
type nodeMetrics struct {
	refusals     *prometheus.CounterVec
	deliveries   *prometheus.CounterVec
	hookDuration *prometheus.HistogramVec
	engineErrors prometheus.Counter
	streamsOpen  *prometheus.CounterVec
	// eventsDropped counts events the events hook gave up, by reason
	// (transport/hooks Drop* reasons: a fixed set, so cardinality stays bounded).
	eventsDropped *prometheus.CounterVec
	// ops are the operator dashboards' series (opsmetrics.go).
	ops *opsMetrics
}

func newNodeMetrics() *nodeMetrics {
	m := &nodeMetrics{
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rotor", Name: "limit_refusals_total",
			Help: "Requests refused by a configured limit (error 106 or 110), by limit.",
		}, []string{"limit"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rotor", Name: "transport_deliveries_total",
			Help: "Publications written to clients, by transport (sse, poll).",
		}, []string{"transport"}),
		hookDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rotor", Name: "hook_duration_seconds",
			Help:    "Calls to auth_url, publish_hook_url and events_hook_url, by hook (auth, publish, events) and outcome.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"hook", "outcome"}),
		engineErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rotor", Name: "engine_errors_total",
			Help: "Engine calls that failed (Redis unavailable and the like).",
		}),
		streamsOpen: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rotor", Name: "streams_opened_total",
			Help: "Streams and polls opened, by transport.",
		}, []string{"transport"}),
		eventsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rotor", Name: "events_hook_dropped_total",
			Help: "Events never delivered to events_hook_url, by reason (queue_full, retries_exhausted, no_hook).",
		}, []string{"reason"}),
	}
	m.ops = newOpsMetrics()
	return m
}

// observeHook records one hook call.
func (m *nodeMetrics) observeHook(hook string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.hookDuration.WithLabelValues(hook, outcome).Observe(time.Since(start).Seconds())
}

// EventsObserver feeds an events hook's drops and calls into the node's
// metrics; it has the methods of transport/hooks' Observer. Reporting
// every drop reason once with 0 events exports it before the first drop,
// so a rate() works from the start.
type EventsObserver struct{ m *nodeMetrics }

// EventsObserver returns the node's observer for its events hook.
func (n *Node) EventsObserver() EventsObserver { return EventsObserver{n.metrics} }

// Dropped counts events an events hook gave up, by reason.
func (o EventsObserver) Dropped(reason string, events int) {
	o.m.eventsDropped.WithLabelValues(reason).Add(float64(events))
}

// Called records one call to an events hook.
func (o EventsObserver) Called(took time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	o.m.hookDuration.WithLabelValues("events", outcome).Observe(took.Seconds())
	o.m.ops.hookBatches.WithLabelValues(outcome).Inc()
}

// Retrying counts a failed events hook batch that will be tried again.
func (o EventsObserver) Retrying() { o.m.ops.hookRetries.Inc() }

// fail maps an engine error to a protocol error and counts it.
func (m *nodeMetrics) fail(err error) *pubsub.Error {
	var pe *pubsub.Error
	if !errors.As(err, &pe) {
		m.engineErrors.Inc()
	}
	return pubsub.AsError(err)
}

// queuedEventSink is an optional EventSink capability: a sink that queues
// events (the HTTP dispatcher) reports the bytes and events waiting, for
// rotor_events_hook_queued_bytes and _events; other sinks report 0.
type queuedEventSink interface {
	QueuedBytes() int64
	QueuedEvents() int
}

// Collectors returns the node's Prometheus metrics.
func (n *Node) Collectors() []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "rotor", Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "rotor", Name: name, Help: help}, f)
	}
	m := n.metrics
	return append([]prometheus.Collector{
		gauge("streams", "Open SSE streams and pending long polls.", func() float64 { return float64(n.hub.Stats().Streams) }),
		gauge("channels", "Channels with local subscribers.", func() float64 { return float64(n.hub.Stats().Channels) }),
		gauge("subscriptions", "Channel subscriptions of open streams.", func() float64 { return float64(n.hub.Stats().Subscriptions) }),
		counter("publications_total", "Publications delivered to this node.", func() float64 { return float64(n.hub.Stats().Publications) }),
		counter("deliveries_total", "Messages queued to streams.", func() float64 { return float64(n.hub.Stats().Deliveries) }),
		counter("slow_disconnects_total", "Streams ended because their queue overflowed (3002).", func() float64 { return float64(n.hub.Stats().Slow) }),
		gauge("events_hook_queued_bytes", "Bytes of events waiting for or in delivery to events_hook_url, all projects.", func() float64 {
			q, ok := n.opts.Events.(queuedEventSink)
			if !ok {
				return 0
			}
			return float64(q.QueuedBytes())
		}),
		gauge("events_hook_queued_events", "Events waiting for delivery to events_hook_url, all projects.", func() float64 {
			q, ok := n.opts.Events.(queuedEventSink)
			if !ok {
				return 0
			}
			return float64(q.QueuedEvents())
		}),
		m.refusals, m.deliveries, m.hookDuration, m.engineErrors, m.streamsOpen, m.eventsDropped,
	}, m.ops.collectors()...)
}
