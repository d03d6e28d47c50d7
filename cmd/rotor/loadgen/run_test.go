package loadgen

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport"
)

const (
	testSecret = "bench-test-secret-bench-test-secret-0123"
	testAPIKey = "bench-test-api-key"
)

// startNode runs a real Rotor node (memory engine, one project with
// history) on a loopback httptest server.
func startNode(t testing.TB) string {
	t.Helper()
	ns := structure.DefaultNamespaceSettings("default")
	ns.HistorySize = 1000
	store, err := admin.NewStaticStore([]structure.Project{{
		ID: "p", Name: "p", Secret: testSecret, APIKey: testAPIKey, DefaultNamespace: "default",
		Namespaces: []structure.Namespace{ns},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.New(memory.Options{})
	n, err := transport.New(transport.Options{
		Delivery: mem, Broker: mem, Presence: mem, Revoker: mem, Projects: store,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	n.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		_ = n.Shutdown(context.Background(), nil)
		srv.CloseClientConnections()
		srv.Close()
		cancel()
	})
	return srv.URL
}

func TestRunAgainstNode(t *testing.T) {
	t.Parallel()
	url := startNode(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{"sse one channel closed loop", Config{Transport: TransportSSE, Subscribers: 20, Channels: 1, Messages: 200, Inflight: 4}},
		{"sse own channels fixed rate", Config{Transport: TransportSSE, Subscribers: 20, Channels: 20, Messages: 200, Rate: 2000}},
		{"poll one channel", Config{Transport: TransportPoll, Subscribers: 20, Channels: 1, Messages: 200, Rate: 1000}},
		{"sse over two source addresses", Config{Transport: TransportSSE, Subscribers: 20, Channels: 5, Messages: 100,
			SourceIPs: mustIPs(t, "127.0.0.1,127.0.0.2")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg
			cfg.URL, cfg.Project, cfg.Secret, cfg.APIKey = url, "p", testSecret, testAPIKey
			cfg.Duration, cfg.Settle, cfg.Drain = 20*time.Second, time.Millisecond, 10*time.Second
			rep, err := Run(t.Context(), cfg)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if rep.Connect.Connected != cfg.Subscribers {
				t.Fatalf("connected %d of %d", rep.Connect.Connected, cfg.Subscribers)
			}
			if rep.Published != cfg.Messages || rep.PublishErrors != 0 {
				t.Fatalf("published %d (errors %d: %s), want %d", rep.Published, rep.PublishErrors, rep.FirstPublishError, cfg.Messages)
			}
			// Every subscriber gets every publication of its channel; the
			// cases spread subscribers evenly over channels.
			want := cfg.Messages * uint64(cfg.Subscribers) / uint64(cfg.Channels)
			if rep.Lost != 0 || rep.Duplicates != 0 {
				t.Fatalf("lost %d duplicates %d", rep.Lost, rep.Duplicates)
			}
			if rep.Deliveries != want {
				t.Fatalf("deliveries %d, want %d", rep.Deliveries, want)
			}
			if rep.Latency.Count != rep.Deliveries || rep.Latency.P50 <= 0 || rep.Latency.Max < rep.Latency.P99 {
				t.Fatalf("latency %+v for %d deliveries", rep.Latency, rep.Deliveries)
			}
			var text strings.Builder
			if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), "0 lost") {
				t.Fatalf("text report: %v\n%s", err, text.String())
			}
		})
	}
}

func TestRunIdle(t *testing.T) {
	t.Parallel()
	url := startNode(t)
	rep, err := Run(t.Context(), Config{
		URL: url, Project: "p", Secret: testSecret, Idle: true,
		Subscribers: 30, Channels: 30, Duration: 10 * time.Millisecond, Settle: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Connect.Connected != 30 || rep.Connect.PerSecond <= 0 || rep.Deliveries != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestRunRefused(t *testing.T) {
	t.Parallel()
	url := startNode(t)
	_, err := Run(t.Context(), Config{
		URL: url, Project: "p", Secret: "wrong-secret-wrong-secret-wrong-secret-00", Idle: true,
		Subscribers: 3, Duration: time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("err = %v, want a 401", err)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no url", Config{Project: "p", Secret: "s", APIKey: "k"}, "url is required"},
		{"https", Config{URL: "https://x", Project: "p", Secret: "s", APIKey: "k"}, "only http://"},
		{"no secret", Config{URL: "http://x", Project: "p", APIKey: "k"}, "secret or token"},
		{"no key", Config{URL: "http://x", Project: "p", Secret: "s"}, "api key"},
		{"bad transport", Config{URL: "http://x", Project: "p", Secret: "s", APIKey: "k", Transport: "ws"}, "transport"},
		{"more channels than subscribers", Config{URL: "http://x", Project: "p", Secret: "s", APIKey: "k", Subscribers: 2, Channels: 3}, "channels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := tt.cfg
			c.setDefaults()
			if err := c.validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func mustIPs(t *testing.T, s string) []net.IP {
	t.Helper()
	var out []net.IP
	for _, p := range strings.Split(s, ",") {
		out = append(out, net.ParseIP(p))
	}
	return out
}
