package memory

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/enginetest"
)

// The engine contract is tested by TestConformance (pubsub/enginetest);
// these tests are of this engine's own parts.

// TestExpiredStateFreedOnRead: expired presence entries and histories
// leave memory when read, not only when the janitor sweeps.
func TestExpiredStateFreedOnRead(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := New(Options{Now: clock.Now})
	ctx := t.Context()
	if err := e.AddPresence(ctx, "k", &pubsub.ClientInfo{Client: "c1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.AddPresence(ctx, "k", &pubsub.ClientInfo{Client: "c2"}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := e.Publish(ctx, "k", json.RawMessage(`1`), pubsub.PublishOptions{HistorySize: 5, HistoryTTL: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	if _, err := e.Presence(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.History(ctx, "k", pubsub.HistoryRequest{}); err != nil {
		t.Fatal(err)
	}
	if got, want := e.Len(), (Counts{Channels: 1, Presence: 1}); got != want {
		t.Errorf("after reading expired state: %+v, want %+v", got, want)
	}
}

func TestContextDone(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]func() error{
		"Publish": func() error {
			_, err := e.Publish(ctx, "k", json.RawMessage(`1`), pubsub.PublishOptions{})
			return err
		},
		"History": func() error {
			_, err := e.History(ctx, "k", pubsub.HistoryRequest{})
			return err
		},
		"RemoveHistory":  func() error { return e.RemoveHistory(ctx, "k") },
		"PublishJoin":    func() error { return e.PublishJoin(ctx, "k", &pubsub.ClientInfo{}) },
		"PublishLeave":   func() error { return e.PublishLeave(ctx, "k", &pubsub.ClientInfo{}) },
		"PublishControl": func() error { return e.PublishControl(ctx, nil) },
		"Subscribe":      func() error { return e.Subscribe(ctx, "k") },
		"Unsubscribe":    func() error { return e.Unsubscribe(ctx, "k") },
		"AddPresence": func() error {
			return e.AddPresence(ctx, "k", &pubsub.ClientInfo{Client: "c"}, time.Second)
		},
		"RemovePresence": func() error { return e.RemovePresence(ctx, "k", "c") },
		"Presence": func() error {
			_, err := e.Presence(ctx, "k")
			return err
		},
		"PresenceStats": func() error {
			_, err := e.PresenceStats(ctx, "k")
			return err
		},
		"Revoke": func() error { return e.Revoke(ctx, "u", time.Now(), time.Second) },
		"RevokedBefore": func() error {
			_, err := e.RevokedBefore(ctx, "u")
			return err
		},
		"Start": func() error { return e.Start(ctx, enginetest.NewRecorder()) },
	}
	for name, call := range calls {
		if err := call(); err != context.Canceled {
			t.Errorf("%s with a done context: %v, want context.Canceled", name, err)
		}
	}
	if n := e.Len(); n != (Counts{}) {
		t.Errorf("done context still changed state: %+v", n)
	}
}

func TestEpochFormat(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 1000 {
		ep := newEpoch()
		if len(ep) != epochLen {
			t.Fatalf("epoch %q has length %d", ep, len(ep))
		}
		for _, r := range ep {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
				t.Fatalf("epoch %q has %q", ep, r)
			}
		}
		if seen[ep] {
			t.Fatalf("epoch %q repeated", ep)
		}
		seen[ep] = true
	}
}
