package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

var prefixSeq atomic.Int64

// newEngine returns an engine on url with a prefix of its own, closed when
// the test ends.
func newEngine(t testing.TB, url, prefix string) *Engine {
	t.Helper()
	if prefix == "" {
		prefix = fmt.Sprintf("t%d", prefixSeq.Add(1))
	}
	e, err := New(Options{
		URL: url, Prefix: prefix, Timeout: 500 * time.Millisecond, PingInterval: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// startEngine returns a started engine and its recorder.
func startEngine(t testing.TB, url, prefix string) (*Engine, *recorder) {
	t.Helper()
	e := newEngine(t, url, prefix)
	rec := newRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := e.Start(ctx, rec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return e, rec
}

func startServer(t testing.TB) *redistest.Server { return redistest.Start(t) }

// recorder is a pubsub.Handler that keeps what it gets.
type recorder struct {
	mu         sync.Mutex
	pubs       map[string][]*pubsub.Publication
	joins      map[string][]string
	leaves     map[string][]string
	control    []string
	reconnects int
	resyncs    map[string]int // keys HandleResync named, with counts
	// inflight counts concurrent calls per key: the Handler contract
	// serialises calls for one key; keys on different Cluster shards
	// arrive from different readers and may overlap.
	inflight sync.Map // key → *atomic.Int32
	overlap  atomic.Bool
}

func newRecorder() *recorder {
	return &recorder{pubs: map[string][]*pubsub.Publication{}, joins: map[string][]string{}, leaves: map[string][]string{}}
}

func (r *recorder) enter(key string) func() {
	v, _ := r.inflight.LoadOrStore(key, new(atomic.Int32))
	n := v.(*atomic.Int32)
	if n.Add(1) > 1 {
		r.overlap.Store(true)
	}
	return func() { n.Add(-1) }
}

func (r *recorder) HandlePublication(key string, pub *pubsub.Publication) {
	defer r.enter(key)()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pubs[key] = append(r.pubs[key], pub)
}

func (r *recorder) HandleJoin(key string, info *pubsub.ClientInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.joins[key] = append(r.joins[key], info.Client)
}

func (r *recorder) HandleLeave(key string, info *pubsub.ClientInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leaves[key] = append(r.leaves[key], info.Client)
}

func (r *recorder) HandleControl(data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.control = append(r.control, string(data))
}

func (r *recorder) HandleReconnect() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reconnects++
}

// HandleResync records keys the engine asked to resync.
func (r *recorder) HandleResync(keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resyncs == nil {
		r.resyncs = map[string]int{}
	}
	for _, k := range keys {
		r.resyncs[k]++
	}
}

func (r *recorder) resyncCount(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resyncs[key]
}

func (r *recorder) resyncSnapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.resyncs)
}

func (r *recorder) pubCount(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pubs[key])
}

func (r *recorder) sawControl(msg string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.control {
		if c == msg {
			return true
		}
	}
	return false
}

func (r *recorder) reconnectCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconnects
}

// eventually polls cond until it holds or 10s pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func data(n int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)) }

func splitLines(s string) []string { return strings.Split(strings.TrimSpace(s), "\n") }

func containsField(line, field string) bool {
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, field) && (field[len(field)-1] == '=' || f == field) {
			return true
		}
	}
	return false
}

func startServerArgs(t testing.TB, args ...string) *redistest.Server {
	return redistest.Start(t, args...)
}
