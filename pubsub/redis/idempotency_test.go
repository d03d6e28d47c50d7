package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// TestIdempotencyKeyExpires checks that Redis forgets a key after its
// window (a PX on the key), so keys cost nothing after it.
func TestIdempotencyKeyExpires(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	opts := pubsub.PublishOptions{IdempotencyKey: "k", IdempotencyWindow: time.Minute}
	if _, err := e.Broker().Publish(t.Context(), "p|a", data(1), opts); err != nil {
		t.Fatal(err)
	}
	pttl, err := e.rdb.PTTL(t.Context(), e.keys.idem("p|a", "k")).Result()
	if err != nil {
		t.Fatal(err)
	}
	if pttl <= 50*time.Second || pttl > time.Minute {
		t.Fatalf("idempotency key PTTL %v, want about 1m", pttl)
	}
	if k := e.keys.idem("p|a", "k"); !strings.HasPrefix(k, e.opts.Prefix+":i:{p|a}") {
		t.Fatalf("idempotency key %q is not in the channel's hash slot", k)
	}
}
