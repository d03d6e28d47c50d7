package transport

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// metricValue returns the value of the series name{labels} among the
// node's collectors (a histogram's sample count), and how many series
// name has.
func metricValue(t *testing.T, s *testServer, name string, labels map[string]string) (float64, int) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.node.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var v float64
	series:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue series
				}
			}
			v = metricNumber(m)
		}
		return v, len(mf.GetMetric())
	}
	return 0, 0
}

func metricNumber(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// TestOpsMetrics: server API requests are counted by method and status,
// protocol errors by code, a bad key under its HTTP status; an SSE stream
// is counted by transport and HTTP version while it is open, and the
// engine calls and connect latency are observed.
func TestOpsMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t)

	s.publish("news", map[string]int{"n": 1})
	if _, code, _ := apiTry(s, "publish", map[string]any{"channel": "nope:x", "data": 1}); code == 0 {
		t.Fatal("publish to an unknown namespace succeeded")
	}
	if st, _ := s.apiRaw("history", "wrong-key", []byte(`{"channel":"news"}`)); st != http.StatusUnauthorized {
		t.Fatalf("wrong key: HTTP %d", st)
	}
	for _, tc := range []struct {
		name   string
		metric string
		labels map[string]string
		want   float64
	}{
		{"publish 200", "rotor_api_requests_total", map[string]string{"method": "publish", "status": "200"}, 2},
		{"history 401", "rotor_api_requests_total", map[string]string{"method": "history", "status": "401"}, 1},
		{"publish error 102", "rotor_api_errors_total", map[string]string{"method": "publish", "code": "102"}, 1},
	} {
		if got, _ := metricValue(t, s, tc.metric, tc.labels); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, n := metricValue(t, s, "rotor_api_request_duration_seconds", nil); n != 2 {
		t.Errorf("latency histograms for %d methods, want 2 (publish, history)", n)
	}
	if _, n := metricValue(t, s, "rotor_engine_command_duration_seconds", nil); n != 4 {
		t.Errorf("%d engine op histograms, want 4 (publish, history, presence, revoke)", n)
	}

	st := s.openSSE(q("token", s.token("u1"), "channel", "news"), nil)
	st.next("sub")
	sse11 := map[string]string{"transport": "sse", "http_version": "1.1"}
	if v, _ := metricValue(t, s, "rotor_streams_open", sse11); v != 1 {
		t.Errorf("streams_open{sse,1.1} %v with one stream open", v)
	}
	if v, _ := metricValue(t, s, "rotor_connect_duration_seconds", map[string]string{"transport": "sse"}); v != 1 {
		t.Errorf("connect_duration{sse} observed %v times, want 1", v)
	}
	st.close()
	eventually(t, "streams_open back to 0", func() bool {
		v, _ := metricValue(t, s, "rotor_streams_open", sse11)
		return v == 0
	})
}

// TestAPIRateRefusalCharted: a request refused by api_rate is counted as
// an API error of its project in the charts, and under 429.
func TestAPIRateRefusalCharted(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(o *Options, _ *structure.Project) { o.Limits.APIRate = 0.01 })
	refused := false
	for range 50 {
		if st, _ := s.apiRaw("history", "p-api-key", []byte(`{"channel":"news"}`)); st == http.StatusTooManyRequests {
			refused = true
			break
		}
	}
	if !refused {
		t.Fatal("api_rate never refused")
	}
	if v, _ := metricValue(t, s, "rotor_api_requests_total", map[string]string{"method": "history", "status": "429"}); v != 1 {
		t.Errorf("history 429 counted %v times, want 1", v)
	}
	ops := s.node.Node().Ops()
	ops.SampleCharts(t.Context(), time.Now())
	series, err := ops.Series(t.Context())
	if err != nil || len(series) != 1 {
		t.Fatalf("series %+v, %v", series, err)
	}
	ps := series[0].Projects["p"]
	if len(ps) != 1 || ps[0].APIErrors != 1 || ps[0].APIRequests < 1 {
		t.Errorf("project samples %+v, want one with the refusal as an API error", ps)
	}
}
