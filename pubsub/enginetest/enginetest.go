// Package enginetest is the conformance suite of pubsub.Engine: one set of
// table-driven tests of the whole contract in pubsub/engine.go (offsets,
// epochs, idempotency keys, history requests, trimming and expiry, delivery to the Handler,
// presence, revocation marks, and the optional capabilities), run by every
// engine from its own tests, as testing/fstest is for file systems.
//
// It is imported only by tests:
//
//	func TestConformance(t *testing.T) {
//		enginetest.Run(t, enginetest.Config{New: func(t *testing.T) enginetest.Instance { ... }})
//	}
//
// An engine is given to the suite as its parts (Parts), as it is given
// to a node: the suite never looks at an engine's type. Where engines
// legitimately differ (a settable clock, a second node, routing by
// subscription), Config and Instance say so.
package enginetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// Capability is a set of the optional engine parts of Parts.
type Capability uint8

// The optional capabilities the suite knows. An engine declares the ones
// it has in Config.Capabilities and gives their parts in Parts; the suite
// fails when the two disagree (so no part goes untested unnoticed).
const (
	// NodeDirectory is pubsub.NodeDirectory.
	NodeDirectory Capability = 1 << iota
	// ChannelLister is pubsub.ChannelLister with its other half,
	// pubsub.ChannelCountReporter.
	ChannelLister
	// HealthChecker is pubsub.HealthChecker.
	HealthChecker
	// SeriesDirectory is pubsub.SeriesDirectory.
	SeriesDirectory
	// ProjectWatcher is pubsub/node's ProjectWatcher (the admin live
	// watch of an engine whose nodes receive only what they subscribed).
	ProjectWatcher
)

// Config describes the engine under test.
type Config struct {
	// New returns a new, unstarted engine whose state no other engine New
	// returned shares. The suite calls it once per subtest, from parallel
	// subtests; cleanup (closing the engine) is New's, through t.Cleanup.
	New func(t *testing.T) Instance
	// Capabilities lists the optional parts the engine gives.
	Capabilities Capability
	// DeliversUnsubscribed says the engine hands every key's events to
	// the Handler whether or not Subscribe was called: one process has
	// nothing to route, and the hub ignores keys without local streams.
	// When false the suite checks that Unsubscribe stops delivery.
	DeliversUnsubscribed bool
	// Wait bounds how long an asynchronous delivery may take; 0 means 5s.
	Wait time.Duration
}

// Instance is one engine under test.
type Instance struct {
	// Parts are the engine's, unstarted; the suite calls Start when a test
	// needs it.
	Parts
	// Peer, when not nil, returns the parts of another unstarted engine
	// sharing this one's state, as a second node would. Nil for engines
	// that serve one process; the suite then skips the checks between
	// nodes.
	Peer func(t *testing.T) Parts
	// Advance moves the engine's clock forward by d. Nil means the engine
	// runs on the wall clock: the suite sleeps instead, in steps of unit,
	// and skips the checks that would need minutes (the 5m meta default,
	// the 60s presence default, the 24h revocation default).
	Advance func(d time.Duration)
}

// Parts are an engine's parts, as pubsub/node's Options takes them.
type Parts struct {
	// Delivery, Broker, Presence and Revoker are the core, all required
	// (pubsub.Engine).
	Delivery Starter
	Broker   pubsub.Broker
	Presence pubsub.PresenceStore
	Revoker  pubsub.Revoker
	// The optional parts, each nil when the engine lacks it and declared
	// in Config.Capabilities when given.
	Nodes    pubsub.NodeDirectory
	Channels ChannelDirectory
	Health   pubsub.HealthChecker
	Series   pubsub.SeriesDirectory
	Watcher  LiveWatcher
}

// Starter starts delivery to a node (pubsub.Engine's Start).
type Starter interface {
	Start(ctx context.Context, h pubsub.Handler) error
}

// ChannelDirectory is pubsub.ChannelLister with its other half,
// pubsub.ChannelCountReporter.
type ChannelDirectory interface {
	pubsub.ChannelLister
	pubsub.ChannelCountReporter
}

// LiveWatcher mirrors pubsub/node's ProjectWatcher (the admin live
// watch's source), which the suite does not import.
type LiveWatcher interface {
	WatchProject(ctx context.Context, project string, fn func(key string, pub *pubsub.Publication)) (stop func(), err error)
}

// core joins the core parts into one pubsub.Engine, as a node does.
type core struct {
	Starter
	pubsub.Broker
	pubsub.PresenceStore
	pubsub.Revoker
}

// engine returns p's core as one pubsub.Engine, failing t when a core
// part is missing.
func (p Parts) engine(t *testing.T) pubsub.Engine {
	t.Helper()
	if p.Delivery == nil || p.Broker == nil || p.Presence == nil || p.Revoker == nil {
		t.Fatal("enginetest: Parts.Delivery, Broker, Presence and Revoker are required")
	}
	return core{p.Delivery, p.Broker, p.Presence, p.Revoker}
}

// optional lists p's optional parts with the capability each is and
// whether p gives it.
func (p Parts) optional() []struct {
	name  string
	cap   Capability
	given bool
} {
	return []struct {
		name  string
		cap   Capability
		given bool
	}{
		{"NodeDirectory", NodeDirectory, p.Nodes != nil},
		{"ChannelLister and ChannelCountReporter", ChannelLister, p.Channels != nil},
		{"HealthChecker", HealthChecker, p.Health != nil},
		{"SeriesDirectory", SeriesDirectory, p.Series != nil},
		{"ProjectWatcher", ProjectWatcher, p.Watcher != nil},
	}
}

// unit is the time step of the expiry tests. On a wall clock a check
// that something is still alive always has at least two units to spare.
const unit = 100 * time.Millisecond

// Run runs the whole suite as subtests of t.
func Run(t *testing.T, cfg Config) {
	t.Helper()
	if cfg.New == nil {
		t.Fatal("enginetest: Config.New is nil")
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 5 * time.Second
	}
	s := &suite{cfg: cfg}
	groups := []struct {
		name  string
		tests []test
	}{
		{"Publish", s.publishTests()},
		{"Idempotency", s.idempotencyTests()},
		{"History", s.historyTests()},
		{"Expiry", s.expiryTests()},
		{"Delivery", s.deliveryTests()},
		{"Presence", s.presenceTests()},
		{"Revoke", s.revokeTests()},
		{"Capabilities", s.capabilityTests()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t)
				})
			}
		})
	}
}

// test is one subtest of the suite.
type test struct {
	name string
	run  func(t *testing.T)
}

type suite struct{ cfg Config }

// engine is one engine of a subtest with the helpers the tests share.
type engine struct {
	pubsub.Engine
	in  Instance
	cfg Config
}

// newEngine returns a new, unstarted engine.
func (s *suite) newEngine(t *testing.T) *engine {
	t.Helper()
	in := s.cfg.New(t)
	for _, c := range in.optional() {
		if s.cfg.Capabilities&c.cap != 0 && !c.given {
			t.Fatalf("enginetest: %s declared in Config.Capabilities but not given in Parts", c.name)
		}
	}
	return &engine{Engine: in.engine(t), in: in, cfg: s.cfg}
}

// started returns a new engine started with a recorder.
func (s *suite) started(t *testing.T) (*engine, *Recorder) {
	t.Helper()
	e := s.newEngine(t)
	return e, e.start(t, e.Engine)
}

// start starts e (this engine or a peer) with a new recorder until t ends.
func (e *engine) start(t *testing.T, eng pubsub.Engine) *Recorder {
	t.Helper()
	rec := NewRecorder()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := eng.Start(ctx, rec); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return rec
}

// peer returns another engine sharing e's state; call it only when
// e.in.Peer is set.
func (e *engine) peer(t *testing.T) pubsub.Engine {
	t.Helper()
	return e.in.Peer(t).engine(t)
}

// fakeClock reports whether the engine's clock can be moved.
func (e *engine) fakeClock() bool { return e.in.Advance != nil }

// needFakeClock skips t on a wall-clock engine.
func (e *engine) needFakeClock(t *testing.T) {
	t.Helper()
	if !e.fakeClock() {
		t.Skip("needs a settable clock (Instance.Advance)")
	}
}

// pass lets d go by on the engine's clock. On a wall clock it waits a
// little longer: a server's clock (Redis caches its time per event loop
// turn) may lag ours by a few milliseconds.
func (e *engine) pass(d time.Duration) {
	if e.in.Advance != nil {
		e.in.Advance(d)
		return
	}
	if d > 0 {
		time.Sleep(d + wallSlack)
	}
}

// wallSlack is added to every wait on a wall clock.
const wallSlack = 20 * time.Millisecond

// publish publishes data(i) and fails t on error.
func (e *engine) publish(t *testing.T, key string, i int, opts pubsub.PublishOptions) pubsub.Position {
	t.Helper()
	pos, err := e.Publish(t.Context(), key, data(i), opts)
	if err != nil {
		t.Fatalf("Publish %s: %v", key, err)
	}
	return pos
}

// publishN publishes n times and returns the last position.
func (e *engine) publishN(t *testing.T, key string, n int, opts pubsub.PublishOptions) pubsub.Position {
	t.Helper()
	var pos pubsub.Position
	for i := range n {
		pos = e.publish(t, key, i+1, opts)
	}
	return pos
}

// history reads all of key's history and fails t on error.
func (e *engine) history(t *testing.T, key string) pubsub.HistoryResult {
	t.Helper()
	res, err := e.History(t.Context(), key, pubsub.HistoryRequest{Limit: -1})
	if err != nil {
		t.Fatalf("History %s: %v", key, err)
	}
	return res
}

// eventually polls cond every few milliseconds until it holds or
// Config.Wait passes.
func (s *suite) eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(s.cfg.Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", s.cfg.Wait, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keep is history kept for a minute: long enough never to expire in a test.
func keep(size int) pubsub.PublishOptions {
	return pubsub.PublishOptions{HistorySize: size, HistoryTTL: time.Minute}
}

// data is the payload of the i-th publication.
func data(i int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)) }

// offsets lists the offsets of pubs.
func offsets(pubs []*pubsub.Publication) []uint64 {
	out := make([]uint64, 0, len(pubs))
	for _, p := range pubs {
		out = append(out, p.Offset)
	}
	return out
}

// seq returns n offsets from `from`, each step apart.
func seq(from uint64, n, step int) []uint64 {
	out := make([]uint64, 0, n)
	for i := range n {
		out = append(out, uint64(int(from)+i*step))
	}
	return out
}

// Recorder is a pubsub.Handler that keeps what it is given and notices
// overlapping calls for one key (the Handler contract forbids them).
type Recorder struct {
	mu         sync.Mutex
	pubs       map[string][]*pubsub.Publication
	events     map[string][]string // "join c1", "leave c1", "pub 3" in arrival order
	controls   []string
	reconnects int
	inFlight   map[string]bool
	overlap    bool
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{
		pubs:     make(map[string][]*pubsub.Publication),
		events:   make(map[string][]string),
		inFlight: make(map[string]bool),
	}
}

// enter marks a call for key as running and returns its end.
func (r *Recorder) enter(key string) func() {
	r.mu.Lock()
	if r.inFlight[key] {
		r.overlap = true
	}
	r.inFlight[key] = true
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.inFlight[key] = false
		r.mu.Unlock()
	}
}

// HandlePublication records pub.
func (r *Recorder) HandlePublication(key string, pub *pubsub.Publication) {
	defer r.enter(key)()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pubs[key] = append(r.pubs[key], pub)
	r.events[key] = append(r.events[key], fmt.Sprintf("pub %d", pub.Offset))
}

// HandleJoin records a join.
func (r *Recorder) HandleJoin(key string, info *pubsub.ClientInfo) {
	defer r.enter(key)()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[key] = append(r.events[key], "join "+info.Client)
}

// HandleLeave records a leave.
func (r *Recorder) HandleLeave(key string, info *pubsub.ClientInfo) {
	defer r.enter(key)()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events[key] = append(r.events[key], "leave "+info.Client)
}

// HandleControl records a control message.
func (r *Recorder) HandleControl(data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.controls = append(r.controls, string(data))
}

// HandleReconnect counts reconnects.
func (r *Recorder) HandleReconnect() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reconnects++
}

// Publications returns what was delivered for key, in arrival order.
func (r *Recorder) Publications(key string) []*pubsub.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*pubsub.Publication(nil), r.pubs[key]...)
}

// Events returns key's publications, joins and leaves in arrival order.
func (r *Recorder) Events(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events[key]...)
}

// Controls returns the control messages received.
func (r *Recorder) Controls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.controls...)
}

// Overlapped reports whether two calls for one key ever overlapped.
func (r *Recorder) Overlapped() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.overlap
}

// Reconnects counts HandleReconnect calls.
func (r *Recorder) Reconnects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconnects
}
