package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/redis"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// nopHandler is a pubsub.Handler that drops everything.
type nopHandler struct{}

func (nopHandler) HandlePublication(string, *pubsub.Publication) {}
func (nopHandler) HandleJoin(string, *pubsub.ClientInfo)         {}
func (nopHandler) HandleLeave(string, *pubsub.ClientInfo)        {}
func (nopHandler) HandleControl([]byte)                          {}
func (nopHandler) HandleReconnect()                              {}

// TestReadyzAnswersFastWhenRedisFreezes: with Redis frozen (SIGSTOP, its
// sockets open and silent) /readyz still answers within 250 ms, turns 503
// once the background ping has noticed, and 200 again after SIGCONT.
func TestReadyzAnswersFastWhenRedisFreezes(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	e, err := redis.New(redis.Options{
		URL: srv.URL(), Timeout: 300 * time.Millisecond, PingInterval: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := e.Start(ctx, nopHandler{}); err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.Broker().Subscribe(ctx, "p|k"); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	mountOps(r, nil, redisParts(e).ready)
	ts := httptest.NewServer(r)
	defer ts.Close()

	probe := func() (int, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := http.Get(ts.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	// waitFor probes until /readyz answers want, recording every latency.
	var lat []time.Duration
	waitFor := func(want int) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			code, d := probe()
			lat = append(lat, d)
			if code == want {
				return time.Since(start)
			}
			if time.Since(start) > 10*time.Second {
				t.Fatalf("/readyz still %d after 10s, want %d", code, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(http.StatusOK)

	srv.Freeze()
	resumed := false
	defer func() {
		if !resumed {
			srv.Thaw()
		}
	}()
	noticed := waitFor(http.StatusServiceUnavailable)
	for range 10 {
		code, d := probe()
		lat = append(lat, d)
		if code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz %d while Redis is frozen", code)
		}
	}
	srv.Thaw()
	resumed = true
	back := waitFor(http.StatusOK)

	worst := slices.Max(lat)
	t.Logf("%d probes, slowest %s; not ready %s after SIGSTOP, ready %s after SIGCONT", len(lat), worst, noticed.Round(time.Millisecond), back.Round(time.Millisecond))
	if worst > 250*time.Millisecond {
		t.Errorf("slowest /readyz took %s, want at most 250ms", worst)
	}
}
