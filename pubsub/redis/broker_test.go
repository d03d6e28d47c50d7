package redis

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func offsets(pubs []*pubsub.Publication) []uint64 {
	out := []uint64{}
	for _, p := range pubs {
		out = append(out, p.Offset)
	}
	return out
}

// TestHistorySemantics is the same table as the memory engine's: ten
// publications into a history of five (offsets 6..10 kept).
func TestHistorySemantics(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	ctx := t.Context()
	const key = "p|ch"
	var last pubsub.Position
	for i := 1; i <= 10; i++ {
		pos, err := e.Publish(ctx, key, data(i), pubsub.PublishOptions{HistorySize: 5, HistoryTTL: time.Minute})
		if err != nil {
			t.Fatalf("Publish: %v", err)
		}
		if pos.Offset != uint64(i) || pos.Epoch == "" || (last.Epoch != "" && pos.Epoch != last.Epoch) {
			t.Fatalf("publish %d: position %+v after %+v", i, pos, last)
		}
		last = pos
	}
	since := func(o uint64) *pubsub.Position { return &pubsub.Position{Epoch: "whatever", Offset: o} }
	tests := []struct {
		name string
		req  pubsub.HistoryRequest
		want []uint64
	}{
		{"all", pubsub.HistoryRequest{Limit: -1}, []uint64{6, 7, 8, 9, 10}},
		{"newest 3 oldest first", pubsub.HistoryRequest{Limit: 3}, []uint64{8, 9, 10}},
		{"newest 3 newest first", pubsub.HistoryRequest{Limit: 3, Reverse: true}, []uint64{10, 9, 8}},
		{"all newest first", pubsub.HistoryRequest{Limit: -1, Reverse: true}, []uint64{10, 9, 8, 7, 6}},
		{"limit above size", pubsub.HistoryRequest{Limit: 50}, []uint64{6, 7, 8, 9, 10}},
		{"limit 0", pubsub.HistoryRequest{Limit: 0}, []uint64{}},
		{"since 7", pubsub.HistoryRequest{Since: since(7), Limit: -1}, []uint64{8, 9, 10}},
		{"since 7 limit 2", pubsub.HistoryRequest{Since: since(7), Limit: 2}, []uint64{8, 9}},
		{"since 0", pubsub.HistoryRequest{Since: since(0), Limit: -1}, []uint64{6, 7, 8, 9, 10}},
		{"since 2 (trimmed)", pubsub.HistoryRequest{Since: since(2), Limit: 2}, []uint64{6, 7}},
		{"since last", pubsub.HistoryRequest{Since: since(10), Limit: -1}, []uint64{}},
		{"since beyond", pubsub.HistoryRequest{Since: since(20), Limit: -1}, []uint64{}},
		{"since 9 reverse", pubsub.HistoryRequest{Since: since(9), Limit: -1, Reverse: true}, []uint64{8, 7, 6}},
		{"since 9 reverse limit 2", pubsub.HistoryRequest{Since: since(9), Limit: 2, Reverse: true}, []uint64{8, 7}},
		{"since 1 reverse", pubsub.HistoryRequest{Since: since(1), Limit: -1, Reverse: true}, []uint64{}},
		{"since 0 reverse", pubsub.HistoryRequest{Since: since(0), Limit: -1, Reverse: true}, []uint64{}},
		{"since 20 reverse", pubsub.HistoryRequest{Since: since(20), Limit: 2, Reverse: true}, []uint64{10, 9}},
		{"since 7 limit 0", pubsub.HistoryRequest{Since: since(7), Limit: 0}, []uint64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := e.History(t.Context(), key, tt.req)
			if err != nil {
				t.Fatalf("History: %v", err)
			}
			if res.Publications == nil {
				t.Error("Publications is nil, want an empty slice (JSON [])")
			}
			if got := offsets(res.Publications); !slices.Equal(got, tt.want) {
				t.Errorf("offsets = %v, want %v", got, tt.want)
			}
			if res.Position != last {
				t.Errorf("position = %+v, want %+v", res.Position, last)
			}
			for _, p := range res.Publications {
				if want := string(data(int(p.Offset))); string(p.Data) != want || p.Epoch != last.Epoch {
					t.Errorf("publication %d: data %s epoch %q, want %s %q", p.Offset, p.Data, p.Epoch, want, last.Epoch)
				}
			}
		})
	}
}

func TestHistoryLifecycle(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")

	t.Run("never published: stable epoch, offset 0", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		a, err := e.History(ctx, "p|fresh", pubsub.HistoryRequest{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.History(ctx, "p|fresh", pubsub.HistoryRequest{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		if a.Position.Epoch == "" || a.Position != b.Position || a.Position.Offset != 0 || len(a.Publications) != 0 {
			t.Fatalf("positions %+v then %+v", a, b)
		}
		pos, err := e.Publish(ctx, "p|fresh", data(1), pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if pos != (pubsub.Position{Epoch: a.Position.Epoch, Offset: 1}) {
			t.Fatalf("first publication at %+v, want epoch %q offset 1", pos, a.Position.Epoch)
		}
	})

	t.Run("history TTL expires, meta stays", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: 50 * time.Millisecond}
		var pos pubsub.Position
		for i := 1; i <= 3; i++ {
			var err error
			if pos, err = e.Publish(ctx, "p|ttl", data(i), opts); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, "history to expire", func() bool {
			res, err := e.History(ctx, "p|ttl", pubsub.HistoryRequest{Limit: -1})
			return err == nil && len(res.Publications) == 0
		})
		res, err := e.History(ctx, "p|ttl", pubsub.HistoryRequest{Limit: -1})
		if err != nil || res.Position != pos {
			t.Fatalf("after expiry: %+v, %v; want position %+v", res.Position, err, pos)
		}
		next, err := e.Publish(ctx, "p|ttl", data(4), opts)
		if err != nil || next != (pubsub.Position{Epoch: pos.Epoch, Offset: 4}) {
			t.Fatalf("publish after expiry: %+v, %v", next, err)
		}
	})

	t.Run("history size 0 keeps none, offset advances", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		for i := 1; i <= 3; i++ {
			if _, err := e.Publish(ctx, "p|nohist", data(i), pubsub.PublishOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		res, err := e.History(ctx, "p|nohist", pubsub.HistoryRequest{Limit: -1})
		if err != nil || len(res.Publications) != 0 || res.Position.Offset != 3 {
			t.Fatalf("history %+v, %v", res, err)
		}
		ttl := e.rdb.PTTL(ctx, e.keys.meta("p|nohist")).Val()
		if ttl <= 0 || ttl > DefaultMetaTTL {
			t.Fatalf("meta TTL %v, want (0, %v]", ttl, DefaultMetaTTL)
		}
	})

	t.Run("remove history keeps position", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
		var pos pubsub.Position
		for i := 1; i <= 3; i++ {
			var err error
			if pos, err = e.Publish(ctx, "p|rm", data(i), opts); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.RemoveHistory(ctx, "p|rm"); err != nil {
			t.Fatal(err)
		}
		res, err := e.History(ctx, "p|rm", pubsub.HistoryRequest{Limit: -1})
		if err != nil || len(res.Publications) != 0 || res.Position != pos {
			t.Fatalf("after remove: %+v, %v", res, err)
		}
		next, err := e.Publish(ctx, "p|rm", data(4), opts)
		if err != nil || next.Offset != 4 {
			t.Fatalf("publish after remove: %+v, %v", next, err)
		}
		res, _ = e.History(ctx, "p|rm", pubsub.HistoryRequest{Limit: -1})
		if got := offsets(res.Publications); !slices.Equal(got, []uint64{4}) {
			t.Fatalf("history after remove and publish: %v", got)
		}
	})

	t.Run("info and odd data round-trip", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		info := &pubsub.ClientInfo{Client: "c1", User: "u1", Info: json.RawMessage(`{"name":"ann"}`)}
		payload := json.RawMessage(`"quote \" brace } unicode é"`)
		if _, err := e.Publish(ctx, "p|info", payload, pubsub.PublishOptions{HistorySize: 1, HistoryTTL: time.Minute, Info: info}); err != nil {
			t.Fatal(err)
		}
		res, err := e.History(ctx, "p|info", pubsub.HistoryRequest{Limit: -1})
		if err != nil || len(res.Publications) != 1 {
			t.Fatalf("history %+v, %v", res, err)
		}
		p := res.Publications[0]
		if string(p.Data) != string(payload) || p.Info == nil || p.Info.User != "u1" || string(p.Info.Info) != `{"name":"ann"}` {
			t.Fatalf("publication %+v info %+v", p, p.Info)
		}
	})
}

// TestNewEpochAfterDataLoss: FLUSHALL (or a restart without persistence)
// must give a new epoch, so clients learn their position is gone.
func TestNewEpochAfterDataLoss(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	ctx := t.Context()
	opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	before, err := e.Publish(ctx, "p|x", data(1), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Do("FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	after, err := e.Publish(ctx, "p|x", data(2), opts)
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch == before.Epoch || after.Offset != 1 {
		t.Fatalf("after FLUSHALL: %+v, before %+v", after, before)
	}
	if _, err := e.Publish(ctx, "p|x", json.RawMessage(`1`), opts); errors.Is(err, pubsub.ErrEngineDown) {
		t.Fatal(err)
	}
}
