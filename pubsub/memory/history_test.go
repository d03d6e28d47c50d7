package memory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func publishN(t *testing.T, e *Engine, key string, n int, opts pubsub.PublishOptions) pubsub.Position {
	t.Helper()
	var pos pubsub.Position
	for i := range n {
		var err error
		pos, err = e.Publish(t.Context(), key, json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), opts)
		if err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	return pos
}

func TestHistoryRequests(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	// Ten publications, five kept: offsets 6..10.
	last := publishN(t, e, "p|ch", 10, pubsub.PublishOptions{HistorySize: 5, HistoryTTL: time.Minute})
	at := func(o uint64) *pubsub.Position { return &pubsub.Position{Epoch: "whatever", Offset: o} }
	tests := []struct {
		name    string
		since   *pubsub.Position
		limit   int
		reverse bool
		want    []uint64
	}{
		{"all oldest first", nil, -1, false, seq(6, 5, 1)},
		{"newest 3 oldest first", nil, 3, false, []uint64{8, 9, 10}},
		{"limit above size", nil, 100, false, seq(6, 5, 1)},
		{"limit 0", nil, 0, false, nil},
		{"all newest first", nil, -1, true, seq(10, 5, -1)},
		{"newest 2 newest first", nil, 2, true, []uint64{10, 9}},
		{"limit 0 reverse", nil, 0, true, nil},
		{"since 7", at(7), -1, false, []uint64{8, 9, 10}},
		{"since 7 limit 2", at(7), 2, false, []uint64{8, 9}},
		{"since 0", at(0), -1, false, seq(6, 5, 1)},
		{"since before kept limit 2", at(2), 2, false, []uint64{6, 7}},
		{"since last", at(10), -1, false, nil},
		{"since future", at(12), -1, false, nil},
		{"since 7 limit 0", at(7), 0, false, nil},
		{"before 8 reverse", at(8), -1, true, []uint64{7, 6}},
		{"before 8 reverse limit 1", at(8), 1, true, []uint64{7}},
		{"before 0 reverse", at(0), -1, true, nil},
		{"before first kept reverse", at(6), -1, true, nil},
		{"before older than kept reverse", at(3), -1, true, nil},
		{"before future reverse limit 2", at(100), 2, true, []uint64{10, 9}},
		{"before 11 reverse", at(11), -1, true, seq(10, 5, -1)},
		{"before 8 reverse limit 0", at(8), 0, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := e.History(t.Context(), "p|ch", pubsub.HistoryRequest{Since: tt.since, Limit: tt.limit, Reverse: tt.reverse})
			if err != nil {
				t.Fatalf("history: %v", err)
			}
			if got := offsets(res.Publications); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("offsets = %v, want %v", got, tt.want)
			}
			if res.Publications == nil {
				t.Errorf("publications is nil, want an empty slice")
			}
			if res.Position != last {
				t.Errorf("position = %+v, want %+v", res.Position, last)
			}
		})
	}
}

func TestHistoryReturnsCopy(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	publishN(t, e, "k", 3, pubsub.PublishOptions{HistorySize: 3})
	res, _ := e.History(t.Context(), "k", pubsub.HistoryRequest{Limit: -1})
	res.Publications[0] = nil
	again, _ := e.History(t.Context(), "k", pubsub.HistoryRequest{Limit: -1})
	if got := offsets(again.Publications); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("history changed by the caller: %v", got)
	}
}

func TestHistoryTrim(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []struct{ n, size int }
		want  []uint64
	}{
		{"under size", []struct{ n, size int }{{3, 5}}, []uint64{1, 2, 3}},
		{"exactly size", []struct{ n, size int }{{5, 5}}, seq(1, 5, 1)},
		{"wraps", []struct{ n, size int }{{12, 5}}, seq(8, 5, 1)},
		{"size 0 keeps none", []struct{ n, size int }{{4, 0}}, nil},
		{"shrinks", []struct{ n, size int }{{10, 8}, {1, 3}}, []uint64{9, 10, 11}},
		{"shrinks after wrap", []struct{ n, size int }{{13, 5}, {2, 2}}, []uint64{14, 15}},
		{"grows", []struct{ n, size int }{{7, 3}, {2, 6}}, seq(5, 5, 1)},
		{"grows then wraps", []struct{ n, size int }{{7, 3}, {5, 4}}, seq(9, 4, 1)},
		{"off then on", []struct{ n, size int }{{3, 0}, {2, 5}}, []uint64{4, 5}},
		{"on then off", []struct{ n, size int }{{3, 5}, {1, 0}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := New(Options{})
			var pos pubsub.Position
			for _, st := range tt.steps {
				pos = publishN(t, e, "k", st.n, pubsub.PublishOptions{HistorySize: st.size})
			}
			res, err := e.History(t.Context(), "k", pubsub.HistoryRequest{Limit: -1})
			if err != nil {
				t.Fatal(err)
			}
			if got := offsets(res.Publications); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("offsets = %v, want %v", got, tt.want)
			}
			if res.Position != pos {
				t.Errorf("position = %+v, want %+v", res.Position, pos)
			}
			for _, p := range res.Publications {
				if p.Epoch != pos.Epoch || p.Channel != "" {
					t.Errorf("publication %d: epoch %q channel %q", p.Offset, p.Epoch, p.Channel)
				}
				if want := fmt.Sprintf(`{"n":%d}`, 0); p.Offset == 1 && string(p.Data) != want {
					t.Errorf("data = %s, want %s", p.Data, want)
				}
			}
		})
	}
}

func TestHistoryExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ttl     time.Duration
		size    int
		advance time.Duration
		expired bool
	}{
		{"before ttl", time.Minute, 5, time.Minute - time.Second, false},
		{"at ttl", time.Minute, 5, time.Minute, true},
		{"after ttl", time.Minute, 5, time.Hour, true},
		{"default ttl alive", 0, 5, 4 * time.Minute, false},
		{"default ttl expired", 0, 5, 5 * time.Minute, true},
		{"no history meta alive", 0, 0, 4 * time.Minute, false},
		{"no history meta expired", 0, 0, 6 * time.Minute, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			e := New(Options{Now: clock.Now})
			opts := pubsub.PublishOptions{HistorySize: tt.size, HistoryTTL: tt.ttl}
			first := publishN(t, e, "k", 3, opts)
			clock.Advance(tt.advance)
			res, err := e.History(t.Context(), "k", pubsub.HistoryRequest{Limit: -1})
			if err != nil {
				t.Fatal(err)
			}
			if !tt.expired {
				if res.Position != first {
					t.Fatalf("position = %+v, want %+v", res.Position, first)
				}
				if len(res.Publications) != min(3, tt.size) {
					t.Fatalf("%d publications, want %d", len(res.Publications), min(3, tt.size))
				}
				return
			}
			if res.Position.Epoch == first.Epoch || res.Position.Offset != 0 || len(res.Publications) != 0 {
				t.Fatalf("after expiry: %+v with %d publications; old epoch %q", res.Position, len(res.Publications), first.Epoch)
			}
			// The epoch History created is the one the next publish uses.
			next := publishN(t, e, "k", 1, opts)
			if next != (pubsub.Position{Epoch: res.Position.Epoch, Offset: 1}) {
				t.Fatalf("next publish = %+v, want epoch %q offset 1", next, res.Position.Epoch)
			}
		})
	}
}

func TestPublishAfterExpiryNewEpoch(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	e := New(Options{Now: clock.Now})
	opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Second}
	first := publishN(t, e, "k", 2, opts)
	clock.Advance(time.Second)
	second := publishN(t, e, "k", 1, opts)
	if second.Offset != 1 || second.Epoch == first.Epoch {
		t.Fatalf("after expiry publish = %+v, first was %+v", second, first)
	}
	res, _ := e.History(t.Context(), "k", pubsub.HistoryRequest{Limit: -1})
	if got := offsets(res.Publications); !slices.Equal(got, []uint64{1}) {
		t.Fatalf("history = %v, want [1]", got)
	}
}

func TestFreshChannelEpochStable(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	res, err := e.History(t.Context(), "fresh", pubsub.HistoryRequest{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if res.Position.Offset != 0 || len(res.Position.Epoch) != epochLen || len(res.Publications) != 0 {
		t.Fatalf("fresh channel: %+v %v", res.Position, res.Publications)
	}
	again, _ := e.History(t.Context(), "fresh", pubsub.HistoryRequest{})
	if again.Position != res.Position {
		t.Fatalf("epoch changed between reads: %+v then %+v", res.Position, again.Position)
	}
	pos := publishN(t, e, "fresh", 1, pubsub.PublishOptions{HistorySize: 1})
	if pos != (pubsub.Position{Epoch: res.Position.Epoch, Offset: 1}) {
		t.Fatalf("first publish = %+v, want epoch %q offset 1", pos, res.Position.Epoch)
	}
}

func TestRemoveHistory(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	opts := pubsub.PublishOptions{HistorySize: 5}
	pos := publishN(t, e, "k", 7, opts)
	if err := e.RemoveHistory(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}
	res, _ := e.History(t.Context(), "k", pubsub.HistoryRequest{Limit: -1})
	if len(res.Publications) != 0 || res.Position != pos {
		t.Fatalf("after remove: %+v %v, want %+v and none", res.Position, offsets(res.Publications), pos)
	}
	next := publishN(t, e, "k", 2, opts)
	if next != (pubsub.Position{Epoch: pos.Epoch, Offset: 9}) {
		t.Fatalf("next = %+v", next)
	}
	res, _ = e.History(t.Context(), "k", pubsub.HistoryRequest{Limit: -1})
	if got := offsets(res.Publications); !slices.Equal(got, []uint64{8, 9}) {
		t.Fatalf("history = %v, want [8 9]", got)
	}
	if err := e.RemoveHistory(t.Context(), "never"); err != nil {
		t.Fatalf("remove unknown: %v", err)
	}
}

func TestPublishConcurrentOrder(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	rec := newRecorder()
	if err := e.Start(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	const publishers, each = 8, 200
	keys := []string{"a", "b", "c"}
	var mu sync.Mutex
	got := make(map[string][]uint64)
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				key := keys[(p+i)%len(keys)]
				if p < publishers/2 {
					key = "hot" // half of the publishers share one key
				}
				pos, err := e.Publish(t.Context(), key, json.RawMessage(`1`), pubsub.PublishOptions{HistorySize: 50})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[key] = append(got[key], pos.Offset)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if rec.overlap {
		t.Error("handler calls overlapped for one key")
	}
	for _, key := range append(keys, "hot") {
		returned := slices.Sorted(slices.Values(got[key]))
		if want := seq(1, len(returned), 1); !slices.Equal(returned, want) {
			t.Errorf("%s: returned offsets not 1..%d without gaps: %v", key, len(returned), returned)
		}
		delivered := rec.published(key)
		if !slices.Equal(offsets(delivered), returned) {
			t.Errorf("%s: delivered out of order or incomplete: %v", key, offsets(delivered))
		}
		for _, p := range delivered {
			if p.Channel != "" || p.Epoch == "" {
				t.Errorf("%s: delivered publication with channel %q epoch %q", key, p.Channel, p.Epoch)
				break
			}
		}
	}
}

func TestPublishWithoutHandlerStores(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	pos := publishN(t, e, "k", 2, pubsub.PublishOptions{HistorySize: 2})
	rec := newRecorder()
	if err := e.Start(t.Context(), rec); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context(), rec); err == nil {
		t.Error("second Start succeeded")
	}
	publishN(t, e, "k", 1, pubsub.PublishOptions{HistorySize: 2})
	if got := offsets(rec.published("k")); !slices.Equal(got, []uint64{3}) || pos.Offset != 2 {
		t.Fatalf("delivered %v after start, want [3]", got)
	}
}

func TestEventsAndControl(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	rec := newRecorder()
	ctx := t.Context()
	if err := e.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := e.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Subscribe(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	info := &pubsub.ClientInfo{Client: "c1", User: "u1"}
	if err := e.PublishJoin(ctx, "k", info); err != nil {
		t.Fatal(err)
	}
	if err := e.PublishLeave(ctx, "k", info); err != nil {
		t.Fatal(err)
	}
	if err := e.PublishControl(ctx, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := e.Unsubscribe(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.joins, []string{"k/c1"}) || !slices.Equal(rec.leaves, []string{"k/c1"}) || !slices.Equal(rec.controls, []string{"hi"}) {
		t.Fatalf("joins %v leaves %v controls %v", rec.joins, rec.leaves, rec.controls)
	}
	res, _ := e.History(ctx, "k", pubsub.HistoryRequest{Limit: -1})
	if res.Position.Offset != 0 {
		t.Fatalf("join/leave went into history: %+v", res.Position)
	}
}

// A handler that reads the engine while it is being called must not
// deadlock (the hub may look at history or presence).
type reentrantHandler struct {
	recorder
	e *Engine
}

func (h *reentrantHandler) HandlePublication(key string, pub *pubsub.Publication) {
	if _, err := h.e.History(context.Background(), key, pubsub.HistoryRequest{}); err != nil {
		panic(err)
	}
	h.recorder.HandlePublication(key, pub)
}

func TestHandlerMayReadEngine(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	h := &reentrantHandler{recorder: *newRecorder(), e: e}
	if err := e.Start(t.Context(), h); err != nil {
		t.Fatal(err)
	}
	publishN(t, e, "k", 3, pubsub.PublishOptions{HistorySize: 3})
	if got := offsets(h.published("k")); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("delivered %v", got)
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
		"Start": func() error { return e.Start(ctx, newRecorder()) },
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
