package transport

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub/redis"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// TestDeadNodeLeave: a node dies without a word (no shutdown, its engine
// gone); its client's presence expires by TTL, and the subscribers on the
// surviving node get one leave for it.
func TestDeadNodeLeave(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	store, err := admin.NewStaticStore([]structure.Project{testProject("p")})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	type node struct {
		ts     *testServer
		cancel context.CancelFunc
		engine *redis.Engine
	}
	start := func(id string) node {
		e, err := redis.New(redis.Options{URL: rs.URL(), NodeID: id, Logger: quiet, Timeout: 500 * time.Millisecond, PingInterval: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		nd, err := New(Options{NodeID: id, Delivery: e, Broker: e.Broker(), Presence: e.Presence(), Revoker: e.Revoker(),
			Nodes: e.Directory(), Channels: e.Directory(), Series: e.Directory(), Watcher: e.Watcher(), Projects: store, Logger: quiet, Ping: time.Second,
			LeaveGrace: 200 * time.Millisecond, PresenceTTL: 600 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := nd.Start(ctx); err != nil {
			t.Fatal(err)
		}
		r := chi.NewRouter()
		nd.Routes(r)
		srv := httptest.NewServer(r)
		t.Cleanup(func() {
			srv.CloseClientConnections()
			srv.Close()
			cancel()
			_ = e.Close()
		})
		return node{ts: &testServer{t: t, node: nd, srv: srv, url: srv.URL, handler: r}, cancel: cancel, engine: e}
	}
	a, b := start("node-a"), start("node-b")
	y := b.ts.openSSE(q("token", a.ts.token("y"), "channel", "room"), nil)
	y.next("sub")
	x := a.ts.openSSE(q("token", a.ts.token("x"), "channel", "room"), nil)
	x.next("sub")
	var xClient string
	for xClient == "" {
		ev := decode[struct{ Client, User string }](t, y.next("join").Data)
		if ev.User == "x" {
			xClient = ev.Client
		}
	}
	// Node A dies: its background work stops and its engine is gone, so
	// it neither refreshes x's presence nor ever sends x's leave.
	a.cancel()
	_ = a.engine.Close()
	deadline := time.Now().Add(8 * time.Second)
	for {
		ev := decode[struct{ Client, User string }](t, y.next("leave").Data)
		if ev.Client == xClient && ev.User == "x" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no leave for the dead node's client")
		}
	}
	// One leave only: nothing more about x in the next few ticks.
	select {
	case ev := <-y.events:
		if ev.Event == "leave" {
			t.Fatalf("second leave: %s", ev.Data)
		}
	case <-time.After(1500 * time.Millisecond):
	}
}
