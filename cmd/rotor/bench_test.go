package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/cmd/rotor/loadgen"
	"github.com/rotor-rt/rotor/pubsub/memory"
	domain "github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport"
)

// benchNode serves project demo (secret testSecret, key demo-key, history
// on) from a real node on loopback.
func benchNode(t *testing.T) string {
	t.Helper()
	store, err := admin.NewStaticStore([]domain.Project{{
		ID: "demo", Name: "demo", Secret: testSecret, APIKey: "demo-key", DefaultNamespace: "default",
		Namespaces: []domain.Namespace{domain.DefaultNamespaceSettings("default")},
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

func TestBenchCommand(t *testing.T) {
	t.Parallel()
	url := benchNode(t)
	// Secret and API key come from the config's project.
	out, err := run(t, nil, "bench", "--config", fileConfig(t, ""), "--url", url, "--project", "demo",
		"--subscribers", "10", "--messages", "50", "--rate", "1000", "--settle", "1ms", "--json", "--strict",
		"--source-ips", "127.0.0.1")
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	var rep loadgen.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report is not JSON: %v\n%s", err, out)
	}
	if rep.Published != 50 || rep.Deliveries != 500 || rep.Lost != 0 || rep.Duplicates != 0 {
		t.Fatalf("report %+v", rep)
	}
}

func TestBenchCommandErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no url", []string{"bench", "--project", "p"}, "--url"},
		{"bad source ip", []string{"bench", "--project", "p", "--url", "http://127.0.0.1:1", "--secret", "s", "--api-key", "k", "--source-ips", "nope"}, "not an IP"},
		{"bad transport", []string{"bench", "--project", "p", "--url", "http://127.0.0.1:1", "--secret", "s", "--api-key", "k", "--transport", "ws"}, "transport"},
		{"unknown project in config", []string{"bench", "--config", "", "--project", "nope", "--url", "http://127.0.0.1:1"}, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			for i, a := range args {
				if a == "--config" {
					args = append([]string(nil), args...)
					args[i+1] = fileConfig(t, "")
				}
			}
			_, err := run(t, nil, args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
