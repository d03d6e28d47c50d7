package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// scrape fetches /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, s *server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := s.client.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: status %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	return families
}

// metricSum adds every series of a family, whatever its labels (a metric
// may gain a transport label without breaking this test).
func metricSum(t *testing.T, families map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := families[name]
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
	var sum float64
	for _, m := range f.GetMetric() {
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Untyped != nil:
			sum += m.Untyped.GetValue()
		}
	}
	return sum
}

// metricWith is the value of the series of family name whose label has
// value (0 when there is none yet).
func metricWith(families map[string]*dto.MetricFamily, name, label, value string) float64 {
	for _, m := range families[name].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label && lp.GetValue() == value {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func status(t *testing.T, s *server, path string) int {
	t.Helper()
	resp, err := s.client.Get(s.base + path)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestMetrics: /metrics parses and its counters and gauges follow the
// traffic; /healthz and /readyz answer 200 with the memory engine.
func TestMetrics(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverConfig{})
	for _, path := range []string{"/healthz", "/readyz"} {
		if code := status(t, srv, path); code != http.StatusOK {
			t.Errorf("%s: %d, want 200", path, code)
		}
	}

	before := scrape(t, srv)
	pubs0 := metricSum(t, before, "rotor_publications_total")
	deliv0 := metricSum(t, before, "rotor_deliveries_total")
	if n := metricSum(t, before, "rotor_streams"); n != 0 {
		t.Errorf("rotor_streams %v before any stream", n)
	}

	const channel, streams, pubs = "metrics", 3, 5
	opened := make([]*sseStream, streams)
	for i := range opened {
		opened[i] = openSSE(t, srv.client, streamURL(srv.base, "sse", fmt.Sprintf("m%d", i), t, channel), "")
		opened[i].lastSubID = opened[i].expect(t, "sub").ID
	}
	eventually(t, 10*time.Second, "rotor_streams counts the open streams", func() bool {
		return metricSum(t, scrape(t, srv), "rotor_streams") == streams
	})
	for n := range pubs {
		mustPublish(t, srv.client, srv.base, channel, n)
	}
	for _, s := range opened {
		for range pubs {
			s.expect(t, "pub")
		}
	}
	eventually(t, 10*time.Second, "publication and delivery counters move", func() bool {
		f := scrape(t, srv)
		return metricSum(t, f, "rotor_publications_total") >= pubs0+pubs &&
			metricSum(t, f, "rotor_deliveries_total") >= deliv0+pubs*streams &&
			metricWith(f, "rotor_transport_deliveries_total", "transport", "sse") >= pubs*streams &&
			metricWith(f, "rotor_streams_opened_total", "transport", "sse") >= streams
	})
	// A poll that catches up on history counts under transport="poll".
	r := poll(t, srv.client, streamURL(srv.base, "poll", "m-poll", t, channel)+"&since="+opened[0].lastSubID, 0)
	if len(r.Events) != pubs {
		t.Fatalf("catch-up poll: %d events, want %d", len(r.Events), pubs)
	}
	eventually(t, 10*time.Second, "poll deliveries counted", func() bool {
		f := scrape(t, srv)
		return metricWith(f, "rotor_transport_deliveries_total", "transport", "poll") >= pubs &&
			metricWith(f, "rotor_streams_opened_total", "transport", "poll") >= 1
	})
	for _, s := range opened {
		s.close()
	}
	eventually(t, 10*time.Second, "rotor_streams back to 0", func() bool {
		return metricSum(t, scrape(t, srv), "rotor_streams") == 0
	})
}

// TestMetricsAddress: with http.metrics_address set, /metrics is served
// on that listener alone and the clients' port answers 404 for it.
func TestMetricsAddress(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverConfig{MetricsAddr: freeAddr(t)})
	if code := status(t, srv, "/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics on the client port: %d, want 404", code)
	}
	metrics := &server{t: t, base: "http://" + srv.cfg.MetricsAddr, client: srv.client}
	if n := metricSum(t, scrape(t, metrics), "rotor_streams"); n != 0 {
		t.Errorf("rotor_streams %v, want 0", n)
	}
	// The metrics listener serves nothing else.
	if code := status(t, metrics, "/healthz"); code != http.StatusNotFound {
		t.Errorf("/healthz on the metrics listener: %d, want 404", code)
	}
}

// TestBodyTimeout: http.body_timeout reaches the server: a body sent a
// byte a second is answered 408 once it passes.
func TestBodyTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	srv := startServer(t, serverConfig{BodyTimeout: timeout})
	conn, err := net.Dial("tcp", srv.cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "POST /connection/%s/connect HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{", project); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range 20 {
			time.Sleep(time.Second)
			if _, err := conn.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408", resp.StatusCode)
	}
	if elapsed := time.Since(start); elapsed < timeout || elapsed > timeout+5*time.Second {
		t.Fatalf("answered after %v, want about %v", elapsed, timeout)
	}
}

// TestReadyzRedis: /readyz follows the Redis engine: 200, then 503 while
// redis-server is down (a load balancer must take the node out), then 200
// again once it is back. /healthz stays 200 throughout.
func TestReadyzRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	srv := startServer(t, serverConfig{RedisURL: rs.URL()})
	if code := status(t, srv, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with Redis up: %d, want 200", code)
	}
	rs.Kill()
	eventually(t, 15*time.Second, "/readyz 503 with Redis down", func() bool { return status(t, srv, "/readyz") == http.StatusServiceUnavailable })
	if code := status(t, srv, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with Redis down: %d, want 200 (the process is alive)", code)
	}
	rs.Restart(false)
	eventually(t, 30*time.Second, "/readyz 200 after Redis is back", func() bool { return status(t, srv, "/readyz") == http.StatusOK })
}
