package redis

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// TestRedisDown kills Redis under two running engines: every call fails
// with ErrEngineDown (never hangs), Ready reports it, and after a restart
// Ready recovers, HandleReconnect is called and subscriptions deliver
// again.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	a, recA := startEngine(t, srv.URL(), "down")
	b, recB := startEngine(t, srv.URL(), "down")
	ctx := t.Context()
	opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	if err := b.Broker().Subscribe(ctx, "p|live"); err != nil {
		t.Fatal(err)
	}
	before, err := a.Broker().Publish(ctx, "p|live", data(1), opts)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "first delivery", func() bool { return recB.pubCount("p|live") == 1 })

	srv.Kill()
	// A generous bound: the point is "no hang", not speed.
	callCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	info := &pubsub.ClientInfo{Client: "c", User: "u"}
	calls := map[string]func() error{
		"publish": func() error { _, err := a.Broker().Publish(callCtx, "p|live", data(2), opts); return err },
		"history": func() error {
			_, err := a.Broker().History(callCtx, "p|live", pubsub.HistoryRequest{Limit: -1})
			return err
		},
		"remove history":  func() error { return a.Broker().RemoveHistory(callCtx, "p|x") },
		"join":            func() error { return a.Broker().PublishJoin(callCtx, "p|live", info) },
		"control":         func() error { return a.Broker().PublishControl(callCtx, []byte("x")) },
		"add presence":    func() error { return a.Presence().AddPresence(callCtx, "p|live", info, time.Minute) },
		"presence":        func() error { _, err := a.Presence().Presence(callCtx, "p|live"); return err },
		"presence stats":  func() error { _, err := a.Presence().PresenceStats(callCtx, "p|live"); return err },
		"remove presence": func() error { return a.Presence().RemovePresence(callCtx, "p|live", "c") },
		"revoke":          func() error { return a.Revoker().Revoke(callCtx, "p|u", time.Now(), time.Minute) },
		"revoked before":  func() error { _, err := a.Revoker().RevokedBefore(callCtx, "p|u"); return err },
		"update node":     func() error { return a.Directory().UpdateNode(callCtx, pubsub.NodeInfo{ID: "a"}, time.Minute) },
		"nodes":           func() error { _, err := a.Directory().Nodes(callCtx); return err },
		"report channels": func() error { return a.Directory().ReportChannels(callCtx, "a", map[string]int{"k": 1}, time.Minute) },
		"channels":        func() error { _, err := a.Directory().Channels(callCtx, "*"); return err },
		"subscribe":       func() error { return a.Broker().Subscribe(callCtx, "p|other") },
		"ready":           func() error { return a.Health().Ready(callCtx) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, pubsub.ErrEngineDown) {
			t.Errorf("%s with Redis down: %v, want ErrEngineDown", name, err)
		}
		if callCtx.Err() != nil {
			t.Fatalf("%s hung", name)
		}
	}
	if err := pubsub.AsError(a.Health().Ready(callCtx)); err.Code != pubsub.CodeUnavailable {
		t.Errorf("AsError(Ready) = %v", err)
	}
	eventually(t, "B's pub/sub to notice", func() bool { return b.subs.healthy() != nil })

	srv.Restart(false)
	eventually(t, "Ready after restart", func() bool { return a.Health().Ready(ctx) == nil && b.Health().Ready(ctx) == nil })
	eventually(t, "HandleReconnect on B", func() bool { return recB.reconnectCount() >= 1 })
	eventually(t, "HandleReconnect on A", func() bool { return recA.reconnectCount() >= 1 })

	// Without persistence the restart lost the data: a new epoch, and the
	// resubscribed key delivers again.
	after, err := a.Broker().Publish(ctx, "p|live", data(3), opts)
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch == before.Epoch || after.Offset != 1 {
		t.Errorf("after restart: %+v, before %+v", after, before)
	}
	eventually(t, "delivery after restart", func() bool { return recB.pubCount("p|live") == 2 })
	if err := a.Broker().PublishControl(ctx, []byte("back")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "control after restart", func() bool { return recA.sawControl("back") && recB.sawControl("back") })
}

// TestPersistentRestart keeps the data over a restart (append-only file):
// same epoch, offsets continue.
func TestPersistentRestart(t *testing.T) {
	t.Parallel()
	srv := startServerArgs(t, "--appendonly", "yes", "--appendfsync", "always")
	e, rec := startEngine(t, srv.URL(), "")
	ctx := t.Context()
	opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	if err := e.Broker().Subscribe(ctx, "p|k"); err != nil {
		t.Fatal(err)
	}
	before, err := e.Broker().Publish(ctx, "p|k", data(1), opts)
	if err != nil {
		t.Fatal(err)
	}
	// A publication in flight when Redis dies may be lost: wait for it.
	eventually(t, "first delivery", func() bool { return rec.pubCount("p|k") == 1 })
	srv.Restart(false)
	eventually(t, "reconnect", func() bool { return rec.reconnectCount() == 1 && e.Health().Ready(ctx) == nil })
	after, err := e.Broker().Publish(ctx, "p|k", data(2), opts)
	if err != nil {
		t.Fatal(err)
	}
	if after != (pubsub.Position{Epoch: before.Epoch, Offset: 2}) {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	eventually(t, "delivery", func() bool { return rec.pubCount("p|k") == 2 })
}

// TestSilentConnection pauses Redis (CLIENT PAUSE) so that the pub/sub
// connection stays open but answers nothing: the missed pong marks it
// down, it is replaced, and HandleReconnect follows when Redis answers.
func TestSilentConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e, rec := startEngine(t, srv.URL(), "")
	ctx := t.Context()
	if err := e.Broker().Subscribe(ctx, "p|k"); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Do("CLIENT", "PAUSE", "1500", "ALL"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "missed pong", func() bool { return e.subs.healthy() != nil })
	eventually(t, "reconnect", func() bool { return rec.reconnectCount() == 1 && e.Health().Ready(ctx) == nil })
	if _, err := e.Broker().Publish(ctx, "p|k", data(1), pubsub.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery", func() bool { return rec.pubCount("p|k") == 1 })
}

// TestStartWithRedisDown: Start reports the outage instead of hanging.
func TestStartWithRedisDown(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	srv.Kill()
	e := newEngine(t, srv.URL(), "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := e.Start(ctx, newRecorder()); !errors.Is(err, pubsub.ErrEngineDown) {
		t.Fatalf("Start: %v, want ErrEngineDown", err)
	}
}

// TestNoGoroutineLeak runs an engine through an outage and checks that
// its goroutines end with Start's context (not parallel: it counts the
// process's goroutines).
func TestNoGoroutineLeak(t *testing.T) {
	srv := startServer(t)
	baseline := runtime.NumGoroutine()
	for range 3 {
		e, err := New(Options{URL: srv.URL(), Timeout: 300 * time.Millisecond, PingInterval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		rec := newRecorder()
		if err := e.Start(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := e.Broker().Subscribe(ctx, "p|a", "p|b"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Broker().Publish(ctx, "p|a", data(1), pubsub.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
		srv.Restart(true)
		eventually(t, "reconnect", func() bool { return rec.reconnectCount() > 0 })
		cancel()
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStartAfterFailedStart: once Redis is back, Start succeeds.
func TestStartAfterFailedStart(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	srv.Kill()
	e := newEngine(t, srv.URL(), "")
	rec := newRecorder()
	if err := e.Start(t.Context(), rec); !errors.Is(err, pubsub.ErrEngineDown) {
		t.Fatalf("Start: %v, want ErrEngineDown", err)
	}
	srv.Restart(true)
	if err := e.Start(t.Context(), rec); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	if err := e.Broker().Subscribe(t.Context(), "p|k"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Broker().Publish(t.Context(), "p|k", data(1), pubsub.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery", func() bool { return rec.pubCount("p|k") == 1 })
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Broker().Subscribe(t.Context(), "p|j"); !errors.Is(err, pubsub.ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

// TestHundredRestarts: one engine lives through a hundred Redis restarts
// (SIGKILL, half of them with the data wiped): each time it reconnects,
// resubscribes and publishes again, and neither its goroutines nor its
// heap grow from one restart to the next. Not parallel: it
// counts the process's goroutines and memory.
func TestHundredRestarts(t *testing.T) {
	srv := startServer(t)
	e, err := New(Options{URL: srv.URL(), Timeout: 300 * time.Millisecond, PingInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := newRecorder()
	if err := e.Start(ctx, rec); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Broker().Subscribe(ctx, "p|a", "p|b"); err != nil {
		t.Fatal(err)
	}
	measure := func() (int, uint64) {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), ms.HeapInuse
	}
	var g10 int
	var h10 uint64
	for i := 1; i <= 100; i++ {
		before := rec.reconnectCount()
		srv.Kill()
		srv.Restart(i%2 == 0)
		eventually(t, "reconnect", func() bool { return rec.reconnectCount() > before })
		eventually(t, "publish after restart", func() bool {
			_, err := e.Broker().Publish(ctx, "p|a", data(i), pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute})
			return err == nil
		})
		if i == 10 {
			g10, h10 = measure()
		}
	}
	// Delivery still works after the last restart.
	eventually(t, "delivery after 100 restarts", func() bool {
		_, _ = e.Broker().Publish(ctx, "p|b", data(1000), pubsub.PublishOptions{})
		return rec.pubCount("p|b") > 0
	})
	var g100 int
	var h100 uint64
	eventually(t, "goroutines and heap back to the level of restart 10", func() bool {
		g100, h100 = measure()
		return g100 <= g10+2 && h100 <= h10+4<<20
	})
	t.Logf("after restart 10: %d goroutines, %d KB heap; after 100: %d goroutines, %d KB heap", g10, h10>>10, g100, h100>>10)
}

// historyOnReconnect is a recorder that reads history as soon as
// HandleReconnect is called, as the node's streams do when they resync,
// and sends the outcome to errs.
type historyOnReconnect struct {
	*recorder
	read func() error
	errs chan error
}

func (h *historyOnReconnect) HandleReconnect() {
	h.recorder.HandleReconnect()
	go func() { h.errs <- h.read() }()
}

// TestReconnectServesHistory: after an outage long enough for go-redis to
// stop dialing (its pool fails fast once PoolSize dials have failed, until
// a background probe, once a second, gets through), HandleReconnect comes
// only once history can be read again. The streams' resync reads history
// at once, and every stream whose read failed would be ended; the pub/sub
// connection, from a pool of its own, is back before the probe.
func TestReconnectServesHistory(t *testing.T) {
	t.Parallel()
	srv := startServerArgs(t, "--appendonly", "yes", "--appendfsync", "always")
	const poolSize = 4
	e, err := New(Options{
		URL: srv.URL(), Prefix: "reconnect", Timeout: 500 * time.Millisecond, PingInterval: 200 * time.Millisecond,
		PoolSize: poolSize, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	ctx := t.Context()
	h := &historyOnReconnect{recorder: newRecorder(), errs: make(chan error, 16)}
	h.read = func() error {
		_, err := e.Broker().History(ctx, "p|k", pubsub.HistoryRequest{Limit: 0})
		return err
	}
	if err := e.Start(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := e.Broker().Subscribe(ctx, "p|k"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Broker().Publish(ctx, "p|k", data(1), pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}); err != nil {
		t.Fatal(err)
	}

	srv.Kill()
	// Calls made during the outage: more failed dials than the pool has
	// connections.
	var wg sync.WaitGroup
	for range 2 * poolSize {
		wg.Go(func() {
			if _, err := e.Broker().History(ctx, "p|k", pubsub.HistoryRequest{Limit: 0}); !errors.Is(err, pubsub.ErrEngineDown) {
				t.Errorf("history with Redis down: %v, want ErrEngineDown", err)
			}
		})
	}
	wg.Wait()
	srv.Restart(false)
	select {
	case err := <-h.errs:
		if err != nil {
			t.Fatalf("history read when HandleReconnect came: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no HandleReconnect after the restart")
	}
}
