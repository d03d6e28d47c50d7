package memory

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/enginetest"
)

func TestIdempotentPublish(t *testing.T) {
	t.Parallel()
	type pub struct {
		key, idem string
		advance   time.Duration // before this publish
	}
	tests := []struct {
		name string
		pubs []pub
		// same[i] says whether publish i answers publish i-1's position.
		same    []bool
		history map[string]int
	}{
		{
			name:    "same key twice",
			pubs:    []pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k1"}},
			same:    []bool{false, true},
			history: map[string]int{"p|a": 1},
		},
		{
			name:    "same key on another channel",
			pubs:    []pub{{key: "p|a", idem: "k1"}, {key: "p|b", idem: "k1"}},
			same:    []bool{false, false},
			history: map[string]int{"p|a": 1, "p|b": 1},
		},
		{
			name:    "different keys",
			pubs:    []pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k2"}},
			same:    []bool{false, false},
			history: map[string]int{"p|a": 2},
		},
		{
			name:    "within the window",
			pubs:    []pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k1", advance: 59 * time.Second}},
			same:    []bool{false, true},
			history: map[string]int{"p|a": 1},
		},
		{
			name:    "after the window",
			pubs:    []pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k1", advance: time.Minute}},
			same:    []bool{false, false},
			history: map[string]int{"p|a": 2},
		},
		{
			name:    "no key",
			pubs:    []pub{{key: "p|a"}, {key: "p|a"}},
			same:    []bool{false, false},
			history: map[string]int{"p|a": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			e := New(Options{Now: clock.Now})
			rec := enginetest.NewRecorder()
			if err := e.Start(t.Context(), rec); err != nil {
				t.Fatal(err)
			}
			var prev pubsub.Position
			for i, p := range tt.pubs {
				clock.Advance(p.advance)
				opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Hour, IdempotencyKey: p.idem, IdempotencyWindow: time.Minute}
				pos, err := e.Publish(t.Context(), p.key, json.RawMessage(`1`), opts)
				if err != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
				if got := pos == prev; got != tt.same[i] {
					t.Errorf("publish %d: position %v, previous %v: same = %v, want %v", i, pos, prev, got, tt.same[i])
				}
				prev = pos
			}
			for key, want := range tt.history {
				res, err := e.History(t.Context(), key, pubsub.HistoryRequest{Limit: -1})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Publications) != want {
					t.Errorf("%s: %d publications in history, want %d", key, len(res.Publications), want)
				}
				if got := len(rec.Publications(key)); got != want {
					t.Errorf("%s: %d delivered, want %d", key, got, want)
				}
			}
		})
	}
}

// TestIdempotencyKeysExpire checks that the janitor forgets keys after
// their window, so remembered keys never grow without bound.
func TestIdempotencyKeysExpire(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := New(Options{Now: clock.Now})
	opts := pubsub.PublishOptions{IdempotencyKey: "k", IdempotencyWindow: time.Minute}
	if _, err := e.Publish(t.Context(), "p|a", json.RawMessage(`1`), opts); err != nil {
		t.Fatal(err)
	}
	if n := e.Len().IdempotencyKeys; n != 1 {
		t.Fatalf("%d keys remembered, want 1", n)
	}
	clock.Advance(time.Minute)
	e.Sweep()
	if n := e.Len().IdempotencyKeys; n != 0 {
		t.Fatalf("%d keys remembered after the window, want 0", n)
	}
}
