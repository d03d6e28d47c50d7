package enginetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// keep is history kept for a minute: long enough never to expire in a test.
func keep(size int) pubsub.PublishOptions {
	return pubsub.PublishOptions{HistorySize: size, HistoryTTL: time.Minute}
}

func (s *suite) publishTests() []test {
	return []test{
		{"offsets count from 1 per key in one epoch", func(t *testing.T) {
			e := s.newEngine(t)
			var first [2]pubsub.Position
			for i := 1; i <= 5; i++ {
				for k, key := range []string{"p|a", "p|b"} {
					pos := e.publish(t, key, i, keep(10))
					if pos.Offset != uint64(i) {
						t.Fatalf("%s publication %d at offset %d", key, i, pos.Offset)
					}
					if i == 1 {
						first[k] = pos
					} else if pos.Epoch != first[k].Epoch {
						t.Fatalf("%s: epoch changed from %q to %q", key, first[k].Epoch, pos.Epoch)
					}
				}
			}
			if first[0].Epoch == first[1].Epoch {
				t.Errorf("two keys share epoch %q", first[0].Epoch)
			}
			// An epoch must fit a stream id.
			for _, p := range first {
				if _, err := pubsub.DecodePositions(pubsub.EncodePositions([]pubsub.Position{p})); err != nil {
					t.Errorf("epoch %q does not fit a stream id: %v", p.Epoch, err)
				}
			}
		}},
		{"concurrent publishers get every offset once", func(t *testing.T) {
			e, rec := s.started(t)
			keys := []string{"p|hot", "p|a", "p|b"}
			if err := e.Subscribe(t.Context(), keys...); err != nil {
				t.Fatal(err)
			}
			const publishers, each = 6, 40
			var mu sync.Mutex
			got := make(map[string][]uint64)
			var wg sync.WaitGroup
			for p := range publishers {
				wg.Go(func() {
					for i := range each {
						key := keys[0] // half of the publishers share one key
						if p%2 == 1 {
							key = keys[1+i%2]
						}
						pos, err := e.Publish(t.Context(), key, data(i), keep(50))
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
			for _, key := range keys {
				returned := slices.Sorted(slices.Values(got[key]))
				if want := seq(1, len(returned), 1); !slices.Equal(returned, want) {
					t.Errorf("%s: offsets not 1..%d without gaps: %v", key, len(returned), returned)
				}
				s.eventually(t, "delivery on "+key, func() bool { return len(rec.Publications(key)) >= len(returned) })
				if got := offsets(rec.Publications(key)); !slices.Equal(got, returned) {
					t.Errorf("%s: delivered out of order or twice: %v", key, got)
				}
			}
			if rec.Overlapped() {
				t.Error("Handler calls for one key overlapped")
			}
		}},
		{"data and info round-trip", func(t *testing.T) {
			e, rec := s.started(t)
			ctx := t.Context()
			if err := e.Subscribe(ctx, "p|info"); err != nil {
				t.Fatal(err)
			}
			info := &pubsub.ClientInfo{Client: "c1", User: "u1", Info: json.RawMessage(`{"name":"ann"}`), ChanInfo: json.RawMessage(`{"role":"op"}`)}
			payload := json.RawMessage(`"quote \" brace } unicode é"`)
			pos, err := e.Publish(ctx, "p|info", payload, pubsub.PublishOptions{HistorySize: 2, HistoryTTL: time.Minute, Info: info})
			if err != nil {
				t.Fatal(err)
			}
			e.publish(t, "p|info", 2, keep(2))
			res := e.history(t, "p|info")
			s.eventually(t, "delivery", func() bool { return len(rec.Publications("p|info")) == 2 })
			for name, pubs := range map[string][]*pubsub.Publication{"history": res.Publications, "delivered": rec.Publications("p|info")} {
				if len(pubs) != 2 {
					t.Fatalf("%s: %d publications", name, len(pubs))
				}
				p := pubs[0]
				if string(p.Data) != string(payload) || p.Epoch != pos.Epoch || p.Channel != "" {
					t.Errorf("%s: publication %+v, want data %s epoch %q and no channel", name, p, payload, pos.Epoch)
				}
				if p.Info == nil || p.Info.Client != "c1" || p.Info.User != "u1" ||
					string(p.Info.Info) != string(info.Info) || string(p.Info.ChanInfo) != string(info.ChanInfo) {
					t.Errorf("%s: info %+v, want %+v", name, p.Info, info)
				}
				if pubs[1].Info != nil || string(pubs[1].Data) != string(data(2)) {
					t.Errorf("%s: second publication %+v info %+v", name, pubs[1], pubs[1].Info)
				}
			}
		}},
		{"publish before Start is kept; a second Start fails", func(t *testing.T) {
			e := s.newEngine(t)
			pos := e.publishN(t, "p|k", 2, keep(5))
			rec := e.start(t, e.Engine)
			if err := e.Start(t.Context(), NewRecorder()); err == nil {
				t.Error("a second Start succeeded")
			}
			if err := e.Subscribe(t.Context(), "p|k"); err != nil {
				t.Fatal(err)
			}
			e.publish(t, "p|k", 3, keep(5))
			s.eventually(t, "delivery after Start", func() bool { return len(rec.Publications("p|k")) == 1 })
			if got := offsets(rec.Publications("p|k")); !slices.Equal(got, []uint64{3}) || pos.Offset != 2 {
				t.Errorf("delivered %v after Start, want [3]", got)
			}
			if got := offsets(e.history(t, "p|k").Publications); !slices.Equal(got, []uint64{1, 2, 3}) {
				t.Errorf("history %v", got)
			}
		}},
		{"a done context is refused and changes nothing", func(t *testing.T) {
			e := s.newEngine(t)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			info := &pubsub.ClientInfo{Client: "c", User: "u"}
			calls := map[string]func() error{
				"Publish": func() error {
					_, err := e.Publish(ctx, "p|k", data(1), keep(5))
					return err
				},
				"RemoveHistory":  func() error { return e.RemoveHistory(ctx, "p|k") },
				"PublishJoin":    func() error { return e.PublishJoin(ctx, "p|k", info) },
				"PublishLeave":   func() error { return e.PublishLeave(ctx, "p|k", info) },
				"PublishControl": func() error { return e.PublishControl(ctx, []byte("x")) },
				"AddPresence":    func() error { return e.AddPresence(ctx, "p|k", info, time.Minute) },
				"Revoke":         func() error { return e.Revoke(ctx, "p|u", time.Now(), time.Minute) },
				"History": func() error {
					_, err := e.History(ctx, "p|k", pubsub.HistoryRequest{})
					return err
				},
				"Presence": func() error {
					_, err := e.Presence(ctx, "p|k")
					return err
				},
				"RevokedBefore": func() error {
					_, err := e.RevokedBefore(ctx, "p|u")
					return err
				},
			}
			for name, call := range calls {
				if err := call(); !errors.Is(err, context.Canceled) {
					t.Errorf("%s with a done context: %v, want context.Canceled", name, err)
				}
			}
			if res := e.history(t, "p|k"); res.Position.Offset != 0 {
				t.Errorf("a refused Publish advanced the offset to %d", res.Position.Offset)
			}
			if p, err := e.Presence(t.Context(), "p|k"); err != nil || len(p) != 0 {
				t.Errorf("a refused AddPresence added %v, %v", p, err)
			}
			if at, err := e.RevokedBefore(t.Context(), "p|u"); err != nil || !at.IsZero() {
				t.Errorf("a refused Revoke marked %v, %v", at, err)
			}
		}},
	}
}

func (s *suite) historyTests() []test {
	since := func(o uint64) *pubsub.Position { return &pubsub.Position{Epoch: "whatever", Offset: o} }
	// Ten publications into a history of five: offsets 6..10 are kept.
	requests := []struct {
		name string
		req  pubsub.HistoryRequest
		want []uint64
	}{
		{"newest all oldest first", pubsub.HistoryRequest{Limit: -1}, seq(6, 5, 1)},
		{"newest 3 oldest first", pubsub.HistoryRequest{Limit: 3}, []uint64{8, 9, 10}},
		{"limit above size", pubsub.HistoryRequest{Limit: 100}, seq(6, 5, 1)},
		{"limit 0", pubsub.HistoryRequest{Limit: 0}, nil},
		{"newest all newest first", pubsub.HistoryRequest{Limit: -1, Reverse: true}, seq(10, 5, -1)},
		{"newest 2 newest first", pubsub.HistoryRequest{Limit: 2, Reverse: true}, []uint64{10, 9}},
		{"limit 0 reverse", pubsub.HistoryRequest{Limit: 0, Reverse: true}, nil},
		{"since 7", pubsub.HistoryRequest{Since: since(7), Limit: -1}, []uint64{8, 9, 10}},
		{"since 7 limit 2", pubsub.HistoryRequest{Since: since(7), Limit: 2}, []uint64{8, 9}},
		{"since 0", pubsub.HistoryRequest{Since: since(0), Limit: -1}, seq(6, 5, 1)},
		{"since trimmed limit 2", pubsub.HistoryRequest{Since: since(2), Limit: 2}, []uint64{6, 7}},
		{"since last", pubsub.HistoryRequest{Since: since(10), Limit: -1}, nil},
		{"since future", pubsub.HistoryRequest{Since: since(12), Limit: -1}, nil},
		{"since 7 limit 0", pubsub.HistoryRequest{Since: since(7), Limit: 0}, nil},
		{"before 8 reverse", pubsub.HistoryRequest{Since: since(8), Limit: -1, Reverse: true}, []uint64{7, 6}},
		{"before 9 reverse limit 2", pubsub.HistoryRequest{Since: since(9), Limit: 2, Reverse: true}, []uint64{8, 7}},
		{"before 0 reverse", pubsub.HistoryRequest{Since: since(0), Limit: -1, Reverse: true}, nil},
		{"before 1 reverse", pubsub.HistoryRequest{Since: since(1), Limit: -1, Reverse: true}, nil},
		{"before first kept reverse", pubsub.HistoryRequest{Since: since(6), Limit: -1, Reverse: true}, nil},
		{"before trimmed reverse", pubsub.HistoryRequest{Since: since(3), Limit: -1, Reverse: true}, nil},
		{"before 11 reverse", pubsub.HistoryRequest{Since: since(11), Limit: -1, Reverse: true}, seq(10, 5, -1)},
		{"before future reverse limit 2", pubsub.HistoryRequest{Since: since(100), Limit: 2, Reverse: true}, []uint64{10, 9}},
		{"before 8 reverse limit 0", pubsub.HistoryRequest{Since: since(8), Limit: 0, Reverse: true}, nil},
	}
	// Publishing n at a time with changing history sizes.
	type step struct{ n, size int }
	trims := []struct {
		name  string
		steps []step
		want  []uint64
	}{
		{"under size", []step{{3, 5}}, []uint64{1, 2, 3}},
		{"exactly size", []step{{5, 5}}, seq(1, 5, 1)},
		{"wraps", []step{{12, 5}}, seq(8, 5, 1)},
		{"size 0 keeps none", []step{{4, 0}}, nil},
		{"shrinks", []step{{10, 8}, {1, 3}}, []uint64{9, 10, 11}},
		{"shrinks after wrap", []step{{13, 5}, {2, 2}}, []uint64{14, 15}},
		{"grows", []step{{7, 3}, {2, 6}}, seq(5, 5, 1)},
		{"grows then wraps", []step{{7, 3}, {5, 4}}, seq(9, 4, 1)},
		{"off then on", []step{{3, 0}, {2, 5}}, []uint64{4, 5}},
		{"on then off", []step{{3, 5}, {1, 0}}, nil},
	}

	tests := []test{{"requests", func(t *testing.T) {
		e := s.newEngine(t)
		last := e.publishN(t, "p|ch", 10, keep(5))
		for _, tt := range requests {
			res, err := e.History(t.Context(), "p|ch", tt.req)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if res.Publications == nil {
				t.Errorf("%s: Publications is nil, want an empty slice (JSON [])", tt.name)
			}
			if got := offsets(res.Publications); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("%s: offsets %v, want %v", tt.name, got, tt.want)
			}
			if res.Position != last {
				t.Errorf("%s: position %+v, want %+v", tt.name, res.Position, last)
			}
			for _, p := range res.Publications {
				if string(p.Data) != string(data(int(p.Offset))) || p.Epoch != last.Epoch {
					t.Errorf("%s: publication %d has data %s epoch %q", tt.name, p.Offset, p.Data, p.Epoch)
				}
			}
		}
	}}}
	for _, tt := range trims {
		tests = append(tests, test{"trim " + tt.name, func(t *testing.T) {
			e := s.newEngine(t)
			var pos pubsub.Position
			for _, st := range tt.steps {
				for range st.n {
					pos = e.publish(t, "p|k", int(pos.Offset)+1, keep(st.size))
				}
			}
			res := e.history(t, "p|k")
			if got := offsets(res.Publications); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("offsets %v, want %v", got, tt.want)
			}
			if res.Position != pos {
				t.Errorf("position %+v, want %+v", res.Position, pos)
			}
		}})
	}
	return append(tests,
		test{"never published: fresh epoch, offset 0, kept by the first publish", func(t *testing.T) {
			e := s.newEngine(t)
			a, err := e.History(t.Context(), "p|fresh", pubsub.HistoryRequest{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if a.Position.Epoch == "" || a.Position.Offset != 0 || a.Publications == nil || len(a.Publications) != 0 {
				t.Fatalf("fresh channel: %+v %v", a.Position, a.Publications)
			}
			b := e.history(t, "p|fresh")
			if b.Position != a.Position {
				t.Fatalf("epoch changed between reads: %+v then %+v", a.Position, b.Position)
			}
			if pos := e.publish(t, "p|fresh", 1, keep(1)); pos != (pubsub.Position{Epoch: a.Position.Epoch, Offset: 1}) {
				t.Fatalf("first publication at %+v, want epoch %q offset 1", pos, a.Position.Epoch)
			}
		}},
		test{"RemoveHistory keeps offset and epoch", func(t *testing.T) {
			e := s.newEngine(t)
			pos := e.publishN(t, "p|k", 7, keep(5))
			if err := e.RemoveHistory(t.Context(), "p|k"); err != nil {
				t.Fatal(err)
			}
			if res := e.history(t, "p|k"); len(res.Publications) != 0 || res.Position != pos {
				t.Fatalf("after RemoveHistory: %+v %v, want %+v and none", res.Position, offsets(res.Publications), pos)
			}
			if next := e.publishN(t, "p|k", 2, keep(5)); next != (pubsub.Position{Epoch: pos.Epoch, Offset: 9}) {
				t.Fatalf("next publication at %+v, want epoch %q offset 9", next, pos.Epoch)
			}
			if got := offsets(e.history(t, "p|k").Publications); !slices.Equal(got, []uint64{8, 9}) {
				t.Fatalf("history %v, want [8 9]", got)
			}
			if err := e.RemoveHistory(t.Context(), "p|never"); err != nil {
				t.Fatalf("RemoveHistory of a channel never published: %v", err)
			}
			if res := e.history(t, "p|never"); res.Position.Offset != 0 || res.Position.Epoch == "" {
				t.Fatalf("never published after RemoveHistory: %+v", res.Position)
			}
		}},
		test{"the result is the caller's", func(t *testing.T) {
			e := s.newEngine(t)
			e.publishN(t, "p|k", 3, keep(3))
			res := e.history(t, "p|k")
			res.Publications[0] = nil
			if got := offsets(e.history(t, "p|k").Publications); !slices.Equal(got, []uint64{1, 2, 3}) {
				t.Fatalf("history changed by the caller: %v", got)
			}
		}},
	)
}

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
