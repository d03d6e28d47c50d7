package enginetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func (s *suite) expiryTests() []test {
	return []test{
		{"history TTL expires, meta stays", func(t *testing.T) {
			e := s.newEngine(t)
			opts := pubsub.PublishOptions{HistorySize: 5, HistoryTTL: 2 * unit}
			pos := e.publishN(t, "p|k", 3, opts)
			if res := e.history(t, "p|k"); len(res.Publications) != 3 || res.Position != pos {
				t.Fatalf("before the TTL: %+v %v", res.Position, offsets(res.Publications))
			}
			if e.fakeClock() {
				e.pass(2*unit - time.Millisecond)
				if res := e.history(t, "p|k"); len(res.Publications) != 3 {
					t.Fatalf("a millisecond before the TTL: %v", offsets(res.Publications))
				}
				e.pass(time.Millisecond)
			} else {
				e.pass(2 * unit)
			}
			if res := e.history(t, "p|k"); len(res.Publications) != 0 || res.Position != pos {
				t.Fatalf("after the TTL: %+v %v, want %+v and none", res.Position, offsets(res.Publications), pos)
			}
			// The meta outlives its history: the next publication continues
			// the same epoch, and a client sees a gap, not data loss.
			if next := e.publish(t, "p|k", 4, opts); next != (pubsub.Position{Epoch: pos.Epoch, Offset: 4}) {
				t.Fatalf("after the TTL published at %+v, want epoch %q offset 4", next, pos.Epoch)
			}
			if got := offsets(e.history(t, "p|k").Publications); !slices.Equal(got, []uint64{4}) {
				t.Fatalf("history %v, want [4]", got)
			}
		}},
		{"each publication restarts the history TTL", func(t *testing.T) {
			e := s.newEngine(t)
			opts := pubsub.PublishOptions{HistorySize: 5, HistoryTTL: 4 * unit}
			e.publish(t, "p|k", 1, opts)
			e.pass(2 * unit)
			e.publish(t, "p|k", 2, opts)
			e.pass(2 * unit)
			if got := offsets(e.history(t, "p|k").Publications); !slices.Equal(got, []uint64{1, 2}) {
				t.Fatalf("history %v, want [1 2]", got)
			}
		}},
		{"meta lives 5m after the last publication", func(t *testing.T) {
			e := s.newEngine(t)
			e.needFakeClock(t)
			for i, opts := range []pubsub.PublishOptions{{}, {HistorySize: 5}, {HistorySize: 5, HistoryTTL: time.Minute}} {
				key := fmt.Sprintf("p|k%d", i)
				pos := e.publishN(t, key, 3, opts)
				e.pass(5*time.Minute - time.Second)
				if res := e.history(t, key); res.Position != pos {
					t.Fatalf("%+v: just before 5m: %+v, want %+v", opts, res.Position, pos)
				}
				e.pass(time.Second)
				res := e.history(t, key)
				if res.Position.Epoch == pos.Epoch || res.Position.Offset != 0 || len(res.Publications) != 0 {
					t.Fatalf("%+v: at 5m: %+v %v, want a new epoch at offset 0", opts, res.Position, offsets(res.Publications))
				}
				if next := e.publish(t, key, 1, opts); next != (pubsub.Position{Epoch: res.Position.Epoch, Offset: 1}) {
					t.Fatalf("%+v: published at %+v, want epoch %q offset 1", opts, next, res.Position.Epoch)
				}
			}
		}},
		{"meta lives as long as a longer history", func(t *testing.T) {
			e := s.newEngine(t)
			e.needFakeClock(t)
			opts := pubsub.PublishOptions{HistorySize: 5, HistoryTTL: 10 * time.Minute}
			pos := e.publishN(t, "p|k", 3, opts)
			e.pass(10*time.Minute - time.Second)
			if res := e.history(t, "p|k"); res.Position != pos || len(res.Publications) != 3 {
				t.Fatalf("before 10m: %+v %v", res.Position, offsets(res.Publications))
			}
			e.pass(time.Second)
			if res := e.history(t, "p|k"); res.Position.Epoch == pos.Epoch || res.Position.Offset != 0 {
				t.Fatalf("at 10m: %+v, want a new epoch", res.Position)
			}
		}},
		{"a fresh epoch lives 5m without a publication", func(t *testing.T) {
			e := s.newEngine(t)
			e.needFakeClock(t)
			a := e.history(t, "p|fresh")
			e.pass(5*time.Minute - time.Second)
			if b := e.history(t, "p|fresh"); b.Position != a.Position {
				t.Fatalf("before 5m: %+v, want %+v", b.Position, a.Position)
			}
			e.pass(time.Second)
			if b := e.history(t, "p|fresh"); b.Position.Epoch == a.Position.Epoch {
				t.Fatalf("after 5m without a publication the epoch is still %q", a.Position.Epoch)
			}
		}},
	}
}
