package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func TestIdempotentPublish(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	type pub struct {
		key, idem string
		sleep     time.Duration // before this publish
	}
	const window = 300 * time.Millisecond
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
			name:    "key with braces and colons",
			pubs:    []pub{{key: "p|a", idem: "{x}:1"}, {key: "p|a", idem: "{x}:1"}, {key: "p|a", idem: "{x}:2"}},
			same:    []bool{false, true, false},
			history: map[string]int{"p|a": 2},
		},
		{
			name:    "after the window",
			pubs:    []pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k1", sleep: 2 * window}},
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
			e, rec := startEngine(t, srv.URL(), "")
			for key := range tt.history {
				if err := e.Broker().Subscribe(t.Context(), key); err != nil {
					t.Fatal(err)
				}
			}
			var prev pubsub.Position
			for i, p := range tt.pubs {
				time.Sleep(p.sleep)
				opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Hour, IdempotencyKey: p.idem, IdempotencyWindow: window}
				pos, err := e.Broker().Publish(t.Context(), p.key, data(i), opts)
				if err != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
				if got := pos == prev; got != tt.same[i] {
					t.Errorf("publish %d: position %v, previous %v: same = %v, want %v", i, pos, prev, got, tt.same[i])
				}
				prev = pos
			}
			for key, want := range tt.history {
				res, err := e.Broker().History(t.Context(), key, pubsub.HistoryRequest{Limit: -1})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Publications) != want {
					t.Errorf("%s: %d publications in history, want %d", key, len(res.Publications), want)
				}
				eventually(t, "deliveries", func() bool { return rec.pubCount(key) >= want })
			}
			// Nothing more arrives than was appended.
			time.Sleep(50 * time.Millisecond)
			for key, want := range tt.history {
				if got := rec.pubCount(key); got != want {
					t.Errorf("%s: %d delivered, want %d", key, got, want)
				}
			}
		})
	}
}

// TestIdempotencyKeyExpires checks that Redis forgets a key after its
// window (a PX on the key), so keys cost nothing after it.
func TestIdempotencyKeyExpires(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	opts := pubsub.PublishOptions{IdempotencyKey: "k", IdempotencyWindow: time.Minute}
	if _, err := e.Broker().Publish(t.Context(), "p|a", data(1), opts); err != nil {
		t.Fatal(err)
	}
	pttl, err := e.rdb.PTTL(t.Context(), e.keys.idem("p|a", "k")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= 50*time.Second || pttl > time.Minute {
		t.Fatalf("idempotency key PTTL %v, want about 1m", pttl)
	}
	if k := e.keys.idem("p|a", "k"); !strings.HasPrefix(k, e.opts.Prefix+":i:{p|a}") {
		t.Fatalf("idempotency key %q is not in the channel's hash slot", k)
	}
}
