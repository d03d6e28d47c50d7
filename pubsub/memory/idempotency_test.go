package memory

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

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
