package node

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// gapEngine is the memory engine with a switch that drops deliveries to
// the node, as Redis pub/sub does while a node resubscribes: what is
// published then is in history but never reaches the hub live.
type gapEngine struct {
	*memory.Engine
	drop atomic.Bool
	// down makes History fail as an unreachable Redis does.
	down atomic.Bool
	h    atomic.Pointer[gapHandler]
}

func (e *gapEngine) History(ctx context.Context, key string, req pubsub.HistoryRequest) (pubsub.HistoryResult, error) {
	if e.down.Load() {
		return pubsub.HistoryResult{}, fmt.Errorf("history: %w", pubsub.ErrEngineDown)
	}
	return e.Engine.History(ctx, key, req)
}

type gapHandler struct {
	pubsub.Handler
	e *gapEngine
}

func (h *gapHandler) HandlePublication(key string, pub *pubsub.Publication) {
	if !h.e.drop.Load() {
		h.Handler.HandlePublication(key, pub)
	}
}

func (e *gapEngine) Start(ctx context.Context, h pubsub.Handler) error {
	gh := &gapHandler{Handler: h, e: e}
	e.h.Store(gh)
	return e.Engine.Start(ctx, gh)
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// startGapNode runs a node on a gapEngine whose clock can be moved past
// the channel's state TTL, which ends its epoch.
func startGapNode(t *testing.T) (*Node, *structure.Project, *gapEngine, *fakeClock) {
	t.Helper()
	def := structure.DefaultNamespaceSettings("default")
	def.Anonymous = true
	p := structure.Project{ID: "p", Name: "p", APIKey: "p-api-key", Secret: "0123456789abcdef0123456789abcdef", DefaultNamespace: "default",
		Anonymous: true, Namespaces: []structure.Namespace{def}}
	store, err := admin.NewStaticStore([]structure.Project{p})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Now()}
	eng := &gapEngine{Engine: memory.New(memory.Options{Now: clock.Now, SweepInterval: time.Hour})}
	n, err := New(Options{Delivery: eng, Broker: eng, Presence: eng, Revoker: eng, Projects: store, Authorizer: nopHooks{}, PublishHook: nopHooks{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	proj, _ := store.Project(t.Context(), "p")
	return n, proj, eng, clock
}

// epochGone is past every TTL of the channel's state: the next publish
// starts a new epoch.
const epochGone = time.Hour

func publishN(t *testing.T, n *Node, p *structure.Project, from, to int) {
	t.Helper()
	ref, perr := Resolve(p, "news")
	if perr != nil {
		t.Fatal(perr)
	}
	for i := from; i <= to; i++ {
		if _, perr := n.Publish(t.Context(), ref, json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), nil); perr != nil {
			t.Fatal(perr)
		}
	}
}

// drainUntil drains st until it has given sink want publications.
func drainUntil(t *testing.T, st *Stream, sink *recordSink, want int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for len(sink.pubs()) < want {
		select {
		case <-st.Ready():
		case <-deadline:
			t.Fatalf("got %q, want %d publications", sink.pubs(), want)
		}
		if err := st.Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// subsOf returns the `sub` events sink holds.
func subsOf(t *testing.T, sink *recordSink) []subEvent {
	t.Helper()
	var out []subEvent
	for _, e := range sink.events {
		if e.kind == pubsub.EventSub {
			var s subEvent
			if err := json.Unmarshal([]byte(e.data), &s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
	}
	return out
}

// wantNewEpoch checks that sink saw `sub` with recovered:false at the new
// epoch's position 0, and then exactly the publications numbered in want.
func wantNewEpoch(t *testing.T, sink *recordSink, oldEpoch string, want ...int) {
	t.Helper()
	subs := subsOf(t, sink)
	if len(subs) == 0 {
		t.Fatalf("no sub event in %v", sink.events)
	}
	last := subs[len(subs)-1]
	if last.Epoch == oldEpoch || last.Offset != 0 || last.Recovered {
		t.Fatalf("sub %+v: want recovered:false at offset 0 of a new epoch (old %q)", last, oldEpoch)
	}
	var got []int
	for _, d := range sink.pubs() {
		var pub struct {
			Data struct{ N int } `json:"data"`
		}
		if err := json.Unmarshal([]byte(d), &pub); err != nil {
			t.Fatal(err)
		}
		got = append(got, pub.Data.N)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("publications %v, want %v", got, want)
	}
}

// TestNewEpochDeliveredFromStart: a stream that learns its channel's epoch
// changed delivers what history holds of the new epoch from offset 1,
// whichever way it learns it.
func TestNewEpochDeliveredFromStart(t *testing.T) {
	t.Parallel()
	t.Run("resume with an old epoch", func(t *testing.T) {
		t.Parallel()
		for _, transport := range []string{"sse", "poll"} {
			t.Run(transport, func(t *testing.T) {
				t.Parallel()
				n, p, _, clock := startGapNode(t)
				publishN(t, n, p, 1, 2)
				first := &recordSink{}
				st, perr := n.OpenStream(t.Context(), StreamRequest{Project: p, Transport: transport, Channels: []string{"news"}}, first)
				if perr != nil {
					t.Fatal(perr)
				}
				since := string(st.ID())
				old := st.chans[0].pos.Epoch
				st.Close()
				clock.Add(epochGone)
				publishN(t, n, p, 3, 5)
				sink := &recordSink{}
				st2, perr := n.OpenStream(t.Context(), StreamRequest{Project: p, Transport: transport, Channels: []string{"news"},
					Since: since, QuietResume: transport == "poll"}, sink)
				if perr != nil {
					t.Fatal(perr)
				}
				defer st2.Close()
				wantNewEpoch(t, sink, old, 3, 4, 5)
			})
		}
	})
	t.Run("live publication of another epoch", func(t *testing.T) {
		t.Parallel()
		n, p, eng, clock := startGapNode(t)
		publishN(t, n, p, 1, 1)
		sink := &recordSink{}
		st, perr := n.OpenStream(t.Context(), StreamRequest{Project: p, Transport: "sse", Channels: []string{"news"}}, sink)
		if perr != nil {
			t.Fatal(perr)
		}
		defer st.Close()
		old := st.chans[0].pos.Epoch
		clock.Add(epochGone)
		eng.drop.Store(true)
		publishN(t, n, p, 2, 3)
		eng.drop.Store(false)
		publishN(t, n, p, 4, 4)
		drainUntil(t, st, sink, 3)
		wantNewEpoch(t, sink, old, 2, 3, 4)
	})
	t.Run("resync after engine reconnect", func(t *testing.T) {
		t.Parallel()
		n, p, eng, clock := startGapNode(t)
		publishN(t, n, p, 1, 1)
		sink := &recordSink{}
		st, perr := n.OpenStream(t.Context(), StreamRequest{Project: p, Transport: "sse", Channels: []string{"news"}}, sink)
		if perr != nil {
			t.Fatal(perr)
		}
		defer st.Close()
		old := st.chans[0].pos.Epoch
		clock.Add(epochGone)
		eng.drop.Store(true)
		publishN(t, n, p, 2, 3)
		eng.drop.Store(false)
		eng.h.Load().HandleReconnect()
		drainUntil(t, st, sink, 2)
		wantNewEpoch(t, sink, old, 2, 3)
	})
}

// TestResyncEngineDown: a stream whose resync cannot read history ends
// with `disconnect` 3005, reconnect true; a stream that cannot open for
// the same reason is refused with 112 of kind KindEngineDown, which SSE
// answers with the same event.
func TestResyncEngineDown(t *testing.T) {
	t.Parallel()
	n, p, eng, _ := startGapNode(t)
	sink := &recordSink{}
	st, perr := n.OpenStream(t.Context(), StreamRequest{Project: p, Transport: "sse", Channels: []string{"news"}}, sink)
	if perr != nil {
		t.Fatal(perr)
	}
	defer st.Close()
	eng.down.Store(true)
	eng.h.Load().HandleReconnect()
	select {
	case <-st.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("no resync")
	}
	if st.Fill(t.Context()) {
		t.Fatal("stream went on although its resync failed")
	}
	last := sink.events[len(sink.events)-1]
	if last.kind != pubsub.EventDisconnect || last.data != `{"code":3005,"reason":"engine unavailable","reconnect":true}` {
		t.Fatalf("last event %v %s, want disconnect 3005", last.kind, last.data)
	}
	_, perr = n.OpenStream(t.Context(), StreamRequest{Project: p, Transport: "sse", Channels: []string{"news"}}, &recordSink{})
	if perr == nil || perr.Code != pubsub.CodeUnavailable || perr.Kind != pubsub.KindEngineDown {
		t.Fatalf("open while the engine is down: %+v, want 112 of kind KindEngineDown", perr)
	}
}
