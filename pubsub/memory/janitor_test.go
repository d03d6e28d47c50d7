package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/enginetest"
)

// TestJanitorFreesState runs the janitor on synctest's fake clock: state
// that is never read again must still leave memory.
func TestJanitorFreesState(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		e := New(Options{SweepInterval: time.Second})
		if err := e.Start(ctx, enginetest.NewRecorder()); err != nil {
			t.Fatal(err)
		}
		for i := range 100 {
			key := fmt.Sprintf("k%d", i)
			if _, err := e.Publish(ctx, key, json.RawMessage(`1`), pubsub.PublishOptions{HistorySize: 10, HistoryTTL: 10 * time.Second}); err != nil {
				t.Fatal(err)
			}
			if err := e.AddPresence(ctx, key, &pubsub.ClientInfo{Client: "c", User: "u"}, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := e.Revoke(ctx, key, time.Now(), 20*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.History(ctx, "read-only", pubsub.HistoryRequest{}); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			at   time.Duration
			want Counts
		}{
			{0, Counts{Channels: 101, Publications: 100, Presence: 100, Revocations: 100}},
			{6 * time.Second, Counts{Channels: 101, Publications: 100, Presence: 0, Revocations: 100}},
			// History goes after its TTL; epochs and offsets stay 5m.
			{11 * time.Second, Counts{Channels: 101, Publications: 0, Presence: 0, Revocations: 100}},
			{21 * time.Second, Counts{Channels: 101, Publications: 0, Presence: 0, Revocations: 0}},
			{5*time.Minute + time.Second, Counts{}},
		}
		start := time.Now()
		for _, st := range steps {
			time.Sleep(st.at - time.Since(start))
			synctest.Wait()
			if got := e.Len(); got != st.want {
				t.Errorf("at %v: %+v, want %+v", st.at, got, st.want)
			}
		}
		cancel()
		synctest.Wait() // the janitor has returned
	})
}
