package enginetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

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
		{"empty data is kept as JSON null", func(t *testing.T) {
			e := s.newEngine(t)
			if _, err := e.Publish(t.Context(), "p|k", nil, keep(1)); err != nil {
				t.Fatal(err)
			}
			if res := e.history(t, "p|k"); len(res.Publications) != 1 || string(res.Publications[0].Data) != "null" {
				t.Fatalf("history %+v", res.Publications)
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
				"RemovePresence": func() error { return e.RemovePresence(ctx, "p|k", "c") },
				"Presence": func() error {
					_, err := e.Presence(ctx, "p|k")
					return err
				},
				"PresenceStats": func() error {
					_, err := e.PresenceStats(ctx, "p|k")
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
