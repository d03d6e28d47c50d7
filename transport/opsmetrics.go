package transport

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-rt/rotor/transport/hooks"
)

// opsMetrics are the series the operator dashboards are built on
// (docs/deploy.md, Metrics; docs/grafana-dashboard.json). Every label
// takes values from a fixed set: API method names, HTTP statuses,
// protocol error codes, engine operations, transports and HTTP versions.
type opsMetrics struct {
	apiRequests   *prometheus.CounterVec
	apiDuration   *prometheus.HistogramVec
	apiErrors     *prometheus.CounterVec
	openDuration  *prometheus.HistogramVec
	subscribeDur  prometheus.Histogram
	engineDur     *prometheus.HistogramVec
	engineErrs    *prometheus.CounterVec
	streamsOpen   *prometheus.GaugeVec
	hookBatches   *prometheus.CounterVec
	hookRetries   prometheus.Counter
	hookQueuedEvs prometheus.Collector
}

// latencyBuckets suit calls that take a Redis round trip or two.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}

func newOpsMetrics(n *Node) *opsMetrics {
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
			Help:    "Time to connect: POST /connect (transport connect), or an SSE stream or poll from the request to its registration in the hub (sse, poll); token checks and auth_url included.",
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
	m.hookQueuedEvs = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "rotor", Name: "events_hook_queued_events",
		Help: "Events waiting for or in delivery to events_hook_url, all projects.",
	}, func() float64 {
		if n.dispatcher == nil {
			return 0
		}
		return float64(n.dispatcher.QueuedEvents())
	})
	// Series the dashboards use exist from the start, so a rate() works
	// before the first event.
	for _, o := range []string{"ok", "error"} {
		m.hookBatches.WithLabelValues(o)
	}
	for _, t := range []string{"connect", "sse", "poll"} {
		m.openDuration.WithLabelValues(t)
	}
	for _, op := range engineOps {
		m.engineDur.WithLabelValues(op)
		m.engineErrs.WithLabelValues(op)
	}
	return m
}

// engineOps are the engine operations timed (the op label).
var engineOps = []string{"publish", "history", "presence", "revoke"}

func (m *opsMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.apiRequests, m.apiDuration, m.apiErrors, m.openDuration, m.subscribeDur,
		m.engineDur, m.engineErrs, m.streamsOpen, m.hookBatches, m.hookRetries, m.hookQueuedEvs}
}

// engineOp times one engine call; call the result with the call's error.
func (n *Node) engineOp(op string) func(error) {
	start := time.Now()
	return func(err error) {
		n.ops.engineDur.WithLabelValues(op).Observe(time.Since(start).Seconds())
		if err != nil {
			n.ops.engineErrs.WithLabelValues(op).Inc()
		}
	}
}

// httpVersion names r's protocol for the http_version label.
func httpVersion(r *http.Request) string {
	switch r.ProtoMajor {
	case 1:
		if r.ProtoMinor == 1 {
			return "1.1"
		}
	case 2:
		return "2"
	}
	return "other"
}

// streamOpened counts an opened stream by transport and HTTP version and
// returns release wrapped to count it closed.
func (n *Node) streamOpened(r *http.Request, transport string, start time.Time, release func()) func() {
	n.ops.openDuration.WithLabelValues(transport).Observe(time.Since(start).Seconds())
	g := n.ops.streamsOpen.WithLabelValues(transport, httpVersion(r))
	g.Inc()
	var once sync.Once
	return func() {
		once.Do(g.Dec)
		release()
	}
}

// apiObservation is what handleAPI tells observeAPI about a request.
type apiObservation struct {
	project string
	code    int // protocol error code, 0 for none
}

type apiObservationKey struct{}

// observedAPI returns the request's observation, or a throwaway one.
func observedAPI(ctx context.Context) *apiObservation {
	if o, ok := ctx.Value(apiObservationKey{}).(*apiObservation); ok {
		return o
	}
	return &apiObservation{}
}

// statusRecorder keeps the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observeAPI counts and times server API requests for Prometheus and the
// admin charts.
func (n *Node) observeAPI(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		obs := &apiObservation{}
		rec := &statusRecorder{ResponseWriter: w}
		next(rec, r.WithContext(context.WithValue(r.Context(), apiObservationKey{}, obs)))
		method := chi.URLParam(r, "method")
		if _, ok := apiMethods[method]; !ok {
			method = "unknown"
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		n.ops.apiRequests.WithLabelValues(method, strconv.Itoa(rec.status)).Inc()
		n.ops.apiDuration.WithLabelValues(method).Observe(time.Since(start).Seconds())
		if obs.code != 0 {
			n.ops.apiErrors.WithLabelValues(method, strconv.Itoa(obs.code)).Inc()
		}
		n.charts.act.apiCalled(obs.project, rec.status >= 400 || obs.code != 0)
	}
}

// observeConnect times POST /connect.
func (n *Node) observeConnect(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next(w, r)
		n.ops.openDuration.WithLabelValues("connect").Observe(time.Since(start).Seconds())
	}
}

// hookObserver adds batch and retry counts to the events hook's observer.
type hookObserver struct {
	eventsObserver
	ops *opsMetrics
}

var _ hooks.RetryObserver = hookObserver{}

func (o hookObserver) Called(took time.Duration, err error) {
	o.eventsObserver.Called(took, err)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	o.ops.hookBatches.WithLabelValues(outcome).Inc()
}

func (o hookObserver) Retrying() { o.ops.hookRetries.Inc() }
