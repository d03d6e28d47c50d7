package redis

import (
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// TestPresenceKeysExpire: presence semantics are the suite's; here, a
// channel whose entries all expired leaves no Redis keys behind.
func TestPresenceKeysExpire(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	ctx := t.Context()
	if err := e.Presence().AddPresence(ctx, "p|brief", &pubsub.ClientInfo{Client: "c9"}, 40*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "keys to expire", func() bool {
		n, err := e.rdb.Exists(ctx, e.keys.presence("p|brief"), e.keys.presenceZ("p|brief")).Result()
		return err == nil && n == 0
	})
}
