package loadgen

import (
	"testing"
)

// BenchmarkPublisher is one worker publishing to a real node (memory
// engine) on loopback: the publisher's cost per publication, client and
// server together, as `rotor bench` pays it.
func BenchmarkPublisher(b *testing.B) {
	url := startNode(b)
	cfg := &Config{URL: url, APIKey: testAPIKey, Project: "p", Inflight: 1, Payload: 64}
	p, err := newPublisher(cfg, []string{"bench"})
	if err != nil {
		b.Fatal(err)
	}
	defer p.close()
	w := &worker{p: p}
	ctx := b.Context()
	b.ReportAllocs()
	var seq uint64
	for b.Loop() {
		seq++
		w.publishOne(ctx, seq)
	}
	b.StopTimer()
	if p.errors.Load() > 0 {
		b.Fatalf("%d errors, first: %v", p.errors.Load(), p.firstErr)
	}
	if p.done.Load() != seq {
		b.Fatalf("%d of %d publications answered", p.done.Load(), seq)
	}
}
