package enginetest

import (
	"context"
	"slices"
	"strconv"
	"testing"

	"github.com/rotor-rt/rotor/pubsub"
)

func (s *suite) deliveryTests() []test {
	// delivered checks, on the node that subscribed, that key's events
	// arrive in order: publications 1..n, then a join and a leave.
	delivered := func(t *testing.T, pub *engine, sub pubsub.Engine, rec *Recorder) {
		t.Helper()
		ctx := t.Context()
		if err := sub.Subscribe(ctx, "p|a", "p|b"); err != nil {
			t.Fatal(err)
		}
		const n = 20
		for i := 1; i <= n; i++ {
			pub.publish(t, "p|a", i, keep(100))
			pub.publish(t, "p|b", i, keep(100))
		}
		info := &pubsub.ClientInfo{Client: "c1", User: "u1"}
		if err := pub.PublishJoin(ctx, "p|a", info); err != nil {
			t.Fatal(err)
		}
		if err := pub.PublishLeave(ctx, "p|a", info); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, o := range seq(1, n, 1) {
			want = append(want, "pub "+itoa(o))
		}
		s.eventually(t, "publications, join and leave", func() bool { return len(rec.Events("p|a")) >= n+2 })
		if got := rec.Events("p|a"); !slices.Equal(got, append(want, "join c1", "leave c1")) {
			t.Errorf("p|a events %v", got)
		}
		s.eventually(t, "publications on p|b", func() bool { return len(rec.Publications("p|b")) >= n })
		if got := offsets(rec.Publications("p|b")); !slices.Equal(got, seq(1, n, 1)) {
			t.Errorf("p|b offsets %v", got)
		}
		for _, p := range rec.Publications("p|a") {
			if p.Epoch == "" || p.Channel != "" || string(p.Data) != string(data(int(p.Offset))) {
				t.Errorf("delivered %+v", p)
				break
			}
		}
		if rec.Overlapped() {
			t.Error("Handler calls for one key overlapped")
		}
		if res := pub.history(t, "p|a"); res.Position.Offset != n {
			t.Errorf("join and leave went into history: %+v", res.Position)
		}
		if r := rec.Reconnects(); r != 0 {
			t.Errorf("HandleReconnect called %d times without an outage", r)
		}
	}

	return []test{
		{"to this node in order", func(t *testing.T) {
			e, rec := s.started(t)
			delivered(t, e, e.Engine, rec)
		}},
		{"to another node in order", func(t *testing.T) {
			e := s.newEngine(t)
			if e.in.Peer == nil {
				t.Skip("one process: no other node")
			}
			e.start(t, e.Engine)
			peer := e.peer(t)
			delivered(t, e, peer, e.start(t, peer))
		}},
		{"control reaches every node, this one included", func(t *testing.T) {
			e, rec := s.started(t)
			recs := []*Recorder{rec}
			if e.in.Peer != nil {
				peer := e.peer(t)
				recs = append(recs, e.start(t, peer))
			}
			for _, msg := range []string{"one", "two"} {
				if err := e.PublishControl(t.Context(), []byte(msg)); err != nil {
					t.Fatal(err)
				}
			}
			for i, r := range recs {
				s.eventually(t, "control on node "+itoa(uint64(i)), func() bool { return len(r.Controls()) >= 2 })
				// The contract orders calls per key only; control messages
				// may arrive in either order (Cluster shards read apart).
				got := slices.Clone(r.Controls())
				slices.Sort(got)
				if !slices.Equal(got, []string{"one", "two"}) {
					t.Errorf("node %d: control %v", i, got)
				}
			}
		}},
		{"Unsubscribe stops delivery", func(t *testing.T) {
			if s.cfg.DeliversUnsubscribed {
				t.Skip("the engine delivers every key (Config.DeliversUnsubscribed)")
			}
			e := s.newEngine(t)
			if e.in.Peer == nil {
				t.Skip("one process: no other node")
			}
			e.start(t, e.Engine)
			sub := e.peer(t)
			rec := e.start(t, sub)
			ctx := t.Context()
			if err := sub.Subscribe(ctx, "p|stay", "p|go"); err != nil {
				t.Fatal(err)
			}
			e.publish(t, "p|go", 1, keep(5))
			e.publish(t, "p|stay", 1, keep(5))
			s.eventually(t, "first publications", func() bool {
				return len(rec.Publications("p|go")) == 1 && len(rec.Publications("p|stay")) == 1
			})
			if err := sub.Unsubscribe(ctx, "p|go"); err != nil {
				t.Fatal(err)
			}
			e.publish(t, "p|go", 2, keep(5))
			if err := e.PublishJoin(ctx, "p|go", &pubsub.ClientInfo{Client: "c1"}); err != nil {
				t.Fatal(err)
			}
			e.publish(t, "p|never", 1, keep(5))
			// A later publication on a key still subscribed is the barrier.
			e.publish(t, "p|stay", 2, keep(5))
			s.eventually(t, "the barrier publication", func() bool { return len(rec.Publications("p|stay")) == 2 })
			if got := rec.Events("p|go"); !slices.Equal(got, []string{"pub 1"}) {
				t.Errorf("after Unsubscribe p|go got %v", got)
			}
			if got := rec.Events("p|never"); len(got) != 0 {
				t.Errorf("a key never subscribed got %v", got)
			}
		}},
		{"the Handler may read the engine", func(t *testing.T) {
			e := s.newEngine(t)
			h := &readingHandler{Recorder: NewRecorder(), e: e.Engine}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			if err := e.Start(ctx, h); err != nil {
				t.Fatal(err)
			}
			if err := e.Subscribe(t.Context(), "p|k"); err != nil {
				t.Fatal(err)
			}
			e.publishN(t, "p|k", 3, keep(3))
			s.eventually(t, "delivery", func() bool { return len(h.Publications("p|k")) == 3 })
			if got := offsets(h.Publications("p|k")); !slices.Equal(got, []uint64{1, 2, 3}) {
				t.Errorf("delivered %v", got)
			}
		}},
	}
}

// readingHandler reads history and presence from inside HandlePublication,
// as a hub may: the engine must not deadlock.
type readingHandler struct {
	*Recorder
	e pubsub.Engine
}

func (h *readingHandler) HandlePublication(key string, pub *pubsub.Publication) {
	if _, err := h.e.History(context.Background(), key, pubsub.HistoryRequest{}); err != nil {
		panic(err)
	}
	if _, err := h.e.Presence(context.Background(), key); err != nil {
		panic(err)
	}
	h.Recorder.HandlePublication(key, pub)
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
