package redis

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// The engine contract (history, expiry, delivery, presence, revocation,
// node directory) is tested by TestConformance (pubsub/enginetest); these
// tests are of how this engine keeps it in Redis.

// TestMetaTTL checks the keys' TTLs in Redis: the suite's 5m meta checks
// need a settable clock, which Redis has not.
func TestMetaTTL(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	ctx := t.Context()
	tests := []struct {
		key      string
		opts     pubsub.PublishOptions
		min, max time.Duration
	}{
		{"p|nohist", pubsub.PublishOptions{}, DefaultMetaTTL - 5*time.Second, DefaultMetaTTL},
		{"p|short", pubsub.PublishOptions{HistorySize: 5, HistoryTTL: time.Second}, DefaultMetaTTL - 5*time.Second, DefaultMetaTTL},
		{"p|long", pubsub.PublishOptions{HistorySize: 5, HistoryTTL: time.Hour}, time.Hour - 5*time.Second, time.Hour},
	}
	for _, tt := range tests {
		if _, err := e.Broker().Publish(ctx, tt.key, data(1), tt.opts); err != nil {
			t.Fatal(err)
		}
		if ttl := e.rdb.PTTL(ctx, e.keys.meta(tt.key)).Val(); ttl < tt.min || ttl > tt.max {
			t.Errorf("%s: meta TTL %v, want [%v, %v]", tt.key, ttl, tt.min, tt.max)
		}
	}
	if _, err := e.Broker().History(ctx, "p|fresh", pubsub.HistoryRequest{}); err != nil {
		t.Fatal(err)
	}
	if ttl := e.rdb.PTTL(ctx, e.keys.meta("p|fresh")).Val(); ttl <= 0 || ttl > DefaultMetaTTL {
		t.Errorf("meta TTL of a channel never published %v, want (0, %v]", ttl, DefaultMetaTTL)
	}
}

// TestNewEpochAfterDataLoss: FLUSHALL (or a restart without persistence)
// must give a new epoch, so clients learn their position is gone.
func TestNewEpochAfterDataLoss(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	ctx := t.Context()
	opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Minute}
	before, err := e.Broker().Publish(ctx, "p|x", data(1), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Do("FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	after, err := e.Broker().Publish(ctx, "p|x", data(2), opts)
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch == before.Epoch || after.Offset != 1 {
		t.Fatalf("after FLUSHALL: %+v, before %+v", after, before)
	}
	if _, err := e.Broker().Publish(ctx, "p|x", json.RawMessage(`1`), opts); errors.Is(err, pubsub.ErrEngineDown) {
		t.Fatal(err)
	}
}
