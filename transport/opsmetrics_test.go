package transport

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestOpsMetrics: server API requests are counted by method and status,
// protocol errors by code, a bad key under its HTTP status; an SSE stream
// is counted by transport and HTTP version while it is open, and the
// engine calls and connect latency are observed.
func TestOpsMetrics(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	m := s.node.ops

	s.publish("news", map[string]int{"n": 1})
	if _, code, _ := apiTry(s, "publish", map[string]any{"channel": "nope:x", "data": 1}); code == 0 {
		t.Fatal("publish to an unknown namespace succeeded")
	}
	if st, _ := s.apiRaw("history", "wrong-key", []byte(`{"channel":"news"}`)); st != http.StatusUnauthorized {
		t.Fatalf("wrong key: HTTP %d", st)
	}
	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"publish 200", testutil.ToFloat64(m.apiRequests.WithLabelValues("publish", "200")), 2},
		{"history 401", testutil.ToFloat64(m.apiRequests.WithLabelValues("history", "401")), 1},
		{"publish error 102", testutil.ToFloat64(m.apiErrors.WithLabelValues("publish", "102")), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if n := testutil.CollectAndCount(m.apiDuration); n != 2 {
		t.Errorf("latency histograms for %d methods, want 2 (publish, history)", n)
	}
	if n := testutil.CollectAndCount(m.engineDur); n != len(engineOps) {
		t.Errorf("%d engine op histograms, want %d", n, len(engineOps))
	}

	st := s.openSSE(q("token", s.token("u1"), "channel", "news"), nil)
	st.next("sub")
	open := m.streamsOpen.WithLabelValues("sse", "1.1")
	if v := testutil.ToFloat64(open); v != 1 {
		t.Errorf("streams_open{sse,1.1} %v with one stream open", v)
	}
	st.close()
	eventually(t, "streams_open back to 0", func() bool { return testutil.ToFloat64(open) == 0 })
}
