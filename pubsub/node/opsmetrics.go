package node

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-rt/rotor/pubsub"
)

// opsMetrics are the series the operator dashboards are built on
// (docs/deploy.md, Metrics; docs/grafana-dashboard.json). Every label
// takes values from a fixed set: API method names, HTTP statuses,
// protocol error codes, engine operations, transports and HTTP versions.
type opsMetrics struct {
	apiRequests  *prometheus.CounterVec
	apiDuration  *prometheus.HistogramVec
	apiErrors    *prometheus.CounterVec
	openDuration *prometheus.HistogramVec
	subscribeDur prometheus.Histogram
	engineDur    *prometheus.HistogramVec
	engineErrs   *prometheus.CounterVec
	streamsOpen  *prometheus.GaugeVec
	hookBatches  *prometheus.CounterVec
	hookRetries  prometheus.Counter
	// engineOps are the children of engineDur and engineErrs for each
	// operation, resolved once: a publication pays no label lookup.
	engineOps map[string]*engineOpMetrics
	// apiByMethod are the server API series of each method, resolved once.
	apiByMethod map[string]*apiMethodMetrics
}

// engineOpMetrics are one engine operation's series.
type engineOpMetrics struct {
	dur  prometheus.Observer
	errs prometheus.Counter
}

// apiMethodMetrics are one server API method's series, resolved on first
// use (a method never called exports none) and kept.
type apiMethodMetrics struct {
	mu       sync.Mutex
	dur      prometheus.Observer
	byStatus map[int]prometheus.Counter
}

// latencyBuckets suit calls that take a Redis round trip or two.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func newOpsMetrics() *opsMetrics {
	m := &opsMetrics{
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rotor", Name: "api_requests_total",
			Help: "Server API requests, by method and HTTP status (an error in a 200 body is also counted in rotor_api_errors_total).",
		}, []string{"method", "status"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rotor", Name: "api_request_duration_seconds",
			Help: "Server API request latency, by method.", Buckets: latencyBuckets,
		}, []string{"method"}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rotor", Name: "api_errors_total",
			Help: "Server API requests answered with a protocol error, by method and error code.",
		}, []string{"method", "code"}),
		openDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rotor", Name: "connect_duration_seconds",
			Help:    "Time to connect: the connect operation of POST /connect (transport connect), or an SSE stream or poll from its request to its registration in the hub (sse, poll); token checks and auth_url included.",
			Buckets: latencyBuckets,
		}, []string{"transport"}),
		subscribeDur: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "rotor", Name: "subscribe_duration_seconds",
			Help: "Latency of the subscribe command, engine subscription and recovery included.", Buckets: latencyBuckets,
		}),
		engineDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "rotor", Name: "engine_command_duration_seconds",
			Help: "Engine call latency, by operation.", Buckets: latencyBuckets,
		}, []string{"op"}),
		engineErrs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rotor", Name: "engine_command_errors_total",
			Help: "Engine calls that failed, by operation.",
		}, []string{"op"}),
		streamsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "rotor", Name: "streams_open",
			Help: "Open SSE streams and pending polls, by transport and HTTP version (1.1, 2, other).",
		}, []string{"transport", "http_version"}),
		hookBatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "rotor", Name: "events_hook_batches_total",
			Help: "POSTs of event batches to events_hook_url, by outcome (ok, error); retries included.",
		}, []string{"outcome"}),
		hookRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "rotor", Name: "events_hook_retries_total",
			Help: "Failed events hook batches that will be tried again.",
		}),
	}
	// Series the dashboards use exist from the start, so a rate() works
	// before the first event.
	for _, o := range []string{"ok", "error"} {
		m.hookBatches.WithLabelValues(o)
	}
	for _, t := range []string{"connect", "sse", "poll"} {
		m.openDuration.WithLabelValues(t)
	}
	m.engineOps = make(map[string]*engineOpMetrics, len(engineOps))
	for _, op := range engineOps {
		m.engineOps[op] = &engineOpMetrics{dur: m.engineDur.WithLabelValues(op), errs: m.engineErrs.WithLabelValues(op)}
	}
	m.apiByMethod = make(map[string]*apiMethodMetrics, len(apiMethods)+1)
	for method := range apiMethods {
		m.apiByMethod[method] = &apiMethodMetrics{byStatus: map[int]prometheus.Counter{}}
	}
	m.apiByMethod["unknown"] = &apiMethodMetrics{byStatus: map[int]prometheus.Counter{}}
	return m
}

// engineOps are the engine operations timed (the op label).
var engineOps = []string{"publish", "history", "presence", "revoke"}

func (m *opsMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.apiRequests, m.apiDuration, m.apiErrors, m.openDuration, m.subscribeDur,
		m.engineDur, m.engineErrs, m.streamsOpen, m.hookBatches, m.hookRetries}
}

// engineOp starts timing one engine call of op, one of engineOps; call
// done on the result with the call's error.
func (m *opsMetrics) engineOp(op string) engineTiming {
	return engineTiming{m: m.engineOps[op], start: time.Now()}
}

// engineTiming is one engine call being timed.
type engineTiming struct {
	m     *engineOpMetrics
	start time.Time
}

// done records the call's latency and its failure, if err is one.
func (t engineTiming) done(err error) {
	t.m.dur.Observe(time.Since(t.start).Seconds())
	if err != nil {
		t.m.errs.Inc()
	}
}

// observeConnect times a connect operation begun at start.
func (m *opsMetrics) observeConnect(start time.Time) {
	m.openDuration.WithLabelValues("connect").Observe(time.Since(start).Seconds())
}

// streamOpened counts an opened stream by transport and HTTP version,
// observes the time since start, and returns release wrapped to count
// the stream closed.
func (m *opsMetrics) streamOpened(transport, httpVersion string, start time.Time, release func()) func() {
	m.openDuration.WithLabelValues(transport).Observe(time.Since(start).Seconds())
	if httpVersion == "" {
		httpVersion = "other"
	}
	g := m.streamsOpen.WithLabelValues(transport, httpVersion)
	g.Inc()
	var once sync.Once
	return func() {
		once.Do(g.Dec)
		release()
	}
}

// Ops is what the HTTP edge reports to the node about the server API,
// and the admin charts' samples: the node's operator view of itself.
type Ops struct {
	m      *opsMetrics
	charts *charts
	hub    *pubsub.Hub
	series SeriesDirectory // nil: this node charts only itself
	nodeID string
	log    *slog.Logger
}

// Ops returns the node's operator metrics and charts.
func (n *Node) Ops() *Ops { return n.ops }

// APIRequest records one server API request, measured at the HTTP edge:
// its method ("unknown" for a name that is none), the HTTP status
// answered, the protocol error code in its body (0 for none), the
// project it acted on ("" when it never named one) and how long it took.
func (o *Ops) APIRequest(method string, status, code int, project string, took time.Duration) {
	am, ok := o.m.apiByMethod[method]
	if !ok {
		method, am = "unknown", o.m.apiByMethod["unknown"]
	}
	requests, dur := am.series(o.m, method, status)
	requests.Inc()
	dur.Observe(took.Seconds())
	if code != 0 {
		o.m.apiErrors.WithLabelValues(method, strconv.Itoa(code)).Inc()
	}
	o.charts.act.apiCalled(project, status >= 400 || code != 0)
}

// series returns this method's request counter for status and its
// latency histogram, resolving them on first use: statuses are a small
// set.
func (am *apiMethodMetrics) series(m *opsMetrics, method string, status int) (prometheus.Counter, prometheus.Observer) {
	am.mu.Lock()
	defer am.mu.Unlock()
	if am.dur == nil {
		am.dur = m.apiDuration.WithLabelValues(method)
	}
	c, ok := am.byStatus[status]
	if !ok {
		c = m.apiRequests.WithLabelValues(method, strconv.Itoa(status))
		am.byStatus[status] = c
	}
	return c, am.dur
}
