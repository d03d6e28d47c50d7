package memory

import (
	"sync"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recorder is a pubsub.Handler that remembers what it was given.
type recorder struct {
	mu       sync.Mutex
	pubs     map[string][]*pubsub.Publication
	joins    []string
	leaves   []string
	controls []string
	// inFlight detects overlapping calls for one key.
	inFlight map[string]bool
	overlap  bool
}

func newRecorder() *recorder {
	return &recorder{pubs: make(map[string][]*pubsub.Publication), inFlight: make(map[string]bool)}
}

func (r *recorder) enter(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inFlight[key] {
		r.overlap = true
	}
	r.inFlight[key] = true
}

func (r *recorder) exit(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inFlight[key] = false
}

func (r *recorder) HandlePublication(key string, pub *pubsub.Publication) {
	r.enter(key)
	defer r.exit(key)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pubs[key] = append(r.pubs[key], pub)
}

func (r *recorder) HandleJoin(key string, info *pubsub.ClientInfo) {
	r.enter(key)
	defer r.exit(key)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.joins = append(r.joins, key+"/"+info.Client)
}

func (r *recorder) HandleLeave(key string, info *pubsub.ClientInfo) {
	r.enter(key)
	defer r.exit(key)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leaves = append(r.leaves, key+"/"+info.Client)
}

func (r *recorder) HandleControl(data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.controls = append(r.controls, string(data))
}

func (r *recorder) HandleReconnect() {}

func (r *recorder) published(key string) []*pubsub.Publication {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*pubsub.Publication(nil), r.pubs[key]...)
}

// offsets lists the offsets of pubs.
func offsets(pubs []*pubsub.Publication) []uint64 {
	out := make([]uint64, 0, len(pubs))
	for _, p := range pubs {
		out = append(out, p.Offset)
	}
	return out
}

// seq returns from, from+step, ... n values.
func seq(from uint64, n int, step int) []uint64 {
	out := make([]uint64, 0, n)
	for i := range n {
		out = append(out, uint64(int(from)+i*step))
	}
	return out
}
