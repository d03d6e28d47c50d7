package apiclient_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport"
)

// The project every test server serves.
const (
	project = "demo"
	apiKey  = "demo-api-key"
	secret  = "demo-secret-demo-secret-demo-secret-0123"
)

// rotorURL is the server the examples and most tests call, started by
// TestMain: a real node with the memory engine on loopback.
var rotorURL string

func TestMain(m *testing.M) {
	url, stop, err := startRotor("")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rotorURL = url
	code := m.Run()
	stop()
	os.Exit(code)
}

// testProject has a "chat" namespace with presence and join/leave, and
// the default namespace with history.
func testProject(eventsHook string) structure.Project {
	def := structure.DefaultNamespaceSettings("default")
	def.Presence = true
	return structure.Project{
		ID: project, Name: project, Secret: secret, APIKey: apiKey,
		DefaultNamespace: "default", Anonymous: true, EventsHookURL: eventsHook,
		AllowedOrigins: []string{"*"},
		Namespaces:     []structure.Namespace{def},
	}
}

// startRotor starts a node serving testProject(eventsHook) on a loopback
// port and returns its URL and a function that stops it.
func startRotor(eventsHook string) (string, func(), error) {
	store, err := admin.NewStaticStore([]structure.Project{testProject(eventsHook)})
	if err != nil {
		return "", nil, err
	}
	mem := memory.New(memory.Options{})
	n, err := transport.New(transport.Options{
		Delivery: mem, Broker: mem, Presence: mem, Revoker: mem, Projects: store, AdminAPIKey: "admin-key",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		cancel()
		return "", nil, err
	}
	r := chi.NewRouter()
	n.Routes(r)
	srv := httptest.NewServer(r)
	return srv.URL, func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = n.Shutdown(sctx, nil)
		srv.CloseClientConnections()
		srv.Close()
		cancel()
	}, nil
}

// startRotorT is startRotor stopped when the test ends.
func startRotorT(t *testing.T, eventsHook string) string {
	t.Helper()
	url, stop, err := startRotor(eventsHook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return url
}

// faultyFront is a loopback HTTP server in front of a real Rotor server
// that answers the first requests itself with a fault, then passes the
// rest through: the failures a client sees from a proxy or a node whose
// engine is down.
type faultyFront struct {
	srv      *httptest.Server
	requests chan string // each request's path, in order
}

// fault is what the front does with one request.
type fault int

const (
	pass        fault = iota
	unavailable       // 503 with Rotor's 112 body, after passing the request on
	badGateway        // 502 with a proxy's HTML page, without passing it on
	hang              // never answers (the client's attempt timeout ends it)
	badRequest        // 400, without passing it on
	partial           // 200 with a batch reply of one 112, after passing it on
)

func startFaultyFront(t *testing.T, target string, faults ...fault) *faultyFront {
	t.Helper()
	f := &faultyFront{requests: make(chan string, 100)}
	var next atomic.Int32
	stop := make(chan struct{})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests <- r.URL.Path
		ft := pass
		if i := int(next.Add(1)) - 1; i < len(faults) {
			ft = faults[i]
		}
		switch ft {
		case unavailable:
			// The publish reaches the server and is applied, but its
			// answer is lost: the case idempotency keys are for.
			_ = forward(r, target)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":{"code":112,"message":"temporarily unavailable"}}`)
		case badGateway:
			w.WriteHeader(http.StatusBadGateway)
			_, _ = io.WriteString(w, "<html>502 Bad Gateway</html>")
		case hang:
			// The server notices the client's close only once the body
			// is read.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		case partial:
			_ = forward(r, target)
			_, _ = io.WriteString(w, `{"result":{"replies":[{"error":{"code":112,"message":"temporarily unavailable"}}]}}`)
		case badRequest:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":{"code":107,"message":"bad request"}}`)
		default:
			resp, err := forwardResp(r, target)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			defer func() { _ = resp.Body.Close() }()
			w.WriteHeader(resp.StatusCode)
			_, _ = io.Copy(w, resp.Body)
		}
	}))
	f.srv.Config.SetKeepAlivesEnabled(false)
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(stop) })
	return f
}

// count returns how many requests the front saw.
func (f *faultyFront) count() int { return len(f.requests) }

func forward(r *http.Request, target string) error {
	resp, err := forwardResp(r, target)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func forwardResp(r *http.Request, target string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.Path, r.Body)
	if err != nil {
		return nil, err
	}
	req.Header = r.Header.Clone()
	return http.DefaultClient.Do(req)
}
