package transport

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
	"github.com/rotor-rt/rotor/transport/auth"
)

// TestAdminOperatorsAcrossNodes: two nodes on one real Redis, subscribers
// on each. The admin bridge of either node lists the channels with the
// counts summed over both, and its unsubscribe and disconnect reach a
// stream held by the other node.
func TestAdminOperatorsAcrossNodes(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nodes := startNodes(t, rs.URL(), 2)
	a, b := nodes[0], nodes[1]
	ctx := t.Context()

	open := func(s *testServer, user, channel string) *sseStream {
		st := s.openSSE(q("token", s.token(user), "channel", channel), nil)
		st.next("sub")
		return st
	}
	// room:a has 2 subscribers on a and 3 on b; room:b one on b.
	ua0 := open(a, "ua0", roomNS+":a")
	ua1 := open(a, "ua1", roomNS+":a")
	for i := range 3 {
		open(b, fmt.Sprintf("ub%d", i), roomNS+":a")
	}
	open(b, "ub9", roomNS+":b")

	for _, tc := range []struct {
		node    *testServer
		pattern string
		want    map[string]int
	}{
		{a, "", map[string]int{roomNS + ":a": 5, roomNS + ":b": 1}},
		{b, roomNS + ":*", map[string]int{roomNS + ":a": 5, roomNS + ":b": 1}},
		{a, "*:b", map[string]int{roomNS + ":b": 1}},
	} {
		var got map[string]int
		eventually(t, fmt.Sprintf("node %s lists %v for %q", tc.node.node.ID(), tc.want, tc.pattern), func() bool {
			var err error
			got, err = tc.node.node.Admin().Channels(ctx, "p", tc.pattern)
			return err == nil && maps.Equal(got, tc.want)
		})
	}
	if _, err := a.node.Admin().Channels(ctx, "p", "[bad"); err == nil {
		t.Error("a bad glob was accepted")
	}

	t.Run("unsubscribe from the other node", func(t *testing.T) {
		if err := b.node.Admin().Unsubscribe(ctx, "p", "ua0", roomNS+":a"); err != nil {
			t.Fatal(err)
		}
		u := decode[struct {
			Channel string `json:"channel"`
		}](t, ua0.next("unsub").Data)
		if u.Channel != roomNS+":a" {
			t.Errorf("unsub of %q, want %q", u.Channel, roomNS+":a")
		}
	})

	t.Run("disconnect from the other node", func(t *testing.T) {
		if err := b.node.Admin().Disconnect(ctx, "p", "ua1", false); err != nil {
			t.Fatal(err)
		}
		d := decode[discEv](t, ua1.next("disconnect").Data)
		if d.Code != 3003 || d.Reconnect {
			t.Errorf("disconnect %+v, want 3003 without reconnect", d)
		}
	})

	t.Run("test tokens", func(t *testing.T) {
		tok, err := a.node.Admin().ConnectionToken(ctx, "p", "tester", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		c, err := auth.ParseConnectionToken(tok, []byte(a.p.Secret), time.Now())
		if err != nil || c.User != "tester" || time.Until(c.Expires) > time.Minute {
			t.Fatalf("connection token %+v, %v", c, err)
		}
		st := a.openSSE(q("token", tok, "channel", roomNS+":c"), nil)
		st.next("sub")
		stok, err := a.node.Admin().SubscriptionToken(ctx, "p", "tester", roomNS+":c", 0)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := auth.ParseSubscriptionToken(stok, []byte(a.p.Secret), time.Now())
		if err != nil || sc.Channel != roomNS+":c" || time.Until(sc.Expires) > node.MaxTestTokenTTL {
			t.Fatalf("subscription token %+v, %v", sc, err)
		}
	})
}
