package redis

import (
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func TestPresence(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	other := newEngine(t, srv.URL(), e.opts.Prefix) // another node sees the same
	ctx := t.Context()
	const key = "p|room"
	add := func(client, user string, ttl time.Duration) {
		t.Helper()
		if err := e.AddPresence(ctx, key, &pubsub.ClientInfo{Client: client, User: user}, ttl); err != nil {
			t.Fatal(err)
		}
	}
	add("c1", "u1", time.Minute)
	add("c2", "u1", time.Minute)
	add("c3", "u2", 50*time.Millisecond)
	stats, err := other.PresenceStats(ctx, key)
	if err != nil || stats != (pubsub.PresenceStats{Clients: 3, Users: 2}) {
		t.Fatalf("stats %+v, %v", stats, err)
	}
	eventually(t, "c3 to expire", func() bool {
		p, err := other.Presence(ctx, key)
		return err == nil && len(p) == 2
	})
	p, _ := other.Presence(ctx, key)
	if p["c1"] == nil || p["c1"].User != "u1" || p["c3"] != nil {
		t.Fatalf("presence %+v", p)
	}
	if err := e.RemovePresence(ctx, key, "c1"); err != nil {
		t.Fatal(err)
	}
	stats, err = other.PresenceStats(ctx, key)
	if err != nil || stats != (pubsub.PresenceStats{Clients: 1, Users: 1}) {
		t.Fatalf("stats after remove %+v, %v", stats, err)
	}
	// Re-adding sets the entry's new expiry, even a shorter one.
	add("c2", "u1", 40*time.Millisecond)
	eventually(t, "c2 to expire", func() bool {
		stats, err := e.PresenceStats(ctx, key)
		return err == nil && stats == (pubsub.PresenceStats{})
	})
	// A channel whose entries all expired leaves no keys behind.
	if err := e.AddPresence(ctx, "p|brief", &pubsub.ClientInfo{Client: "c9"}, 40*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	eventually(t, "keys to expire", func() bool {
		n, err := e.rdb.Exists(ctx, e.keys.presence("p|brief"), e.keys.presenceZ("p|brief")).Result()
		return err == nil && n == 0
	})
}

func TestRevocation(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	ctx := t.Context()
	if got, err := e.RevokedBefore(ctx, "p|u1"); err != nil || !got.IsZero() {
		t.Fatalf("no mark: %v, %v", got, err)
	}
	before := time.Now()
	if err := e.Revoke(ctx, "p|u1", before, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.Revoke(ctx, "p|u2", before, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	got, err := e.RevokedBefore(ctx, "p|u1")
	if err != nil || !got.Equal(before) {
		t.Fatalf("mark %v, %v; want %v", got, err, before)
	}
	// An earlier mark, or a shorter one, does not shorten the revocation.
	if err := e.Revoke(ctx, "p|u1", before.Add(-time.Hour), time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got, err := e.RevokedBefore(ctx, "p|u1"); err != nil || !got.Equal(before) {
		t.Fatalf("after an earlier mark: %v, %v; want %v", got, err, before)
	}
	if ttl := e.rdb.PTTL(ctx, e.keys.revoke("p|u1")).Val(); ttl < 30*time.Second {
		t.Fatalf("mark TTL shortened to %v", ttl)
	}
	later := before.Add(time.Second)
	if err := e.Revoke(ctx, "p|u1", later, time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got, err := e.RevokedBefore(ctx, "p|u1"); err != nil || !got.Equal(later) {
		t.Fatalf("after a later mark: %v, %v; want %v", got, err, later)
	}
	if ttl := e.rdb.PTTL(ctx, e.keys.revoke("p|u1")).Val(); ttl < 30*time.Second {
		t.Fatalf("mark TTL shortened to %v", ttl)
	}
	eventually(t, "short mark to expire", func() bool {
		got, err := e.RevokedBefore(ctx, "p|u2")
		return err == nil && got.IsZero()
	})
}

func TestNodesAndChannels(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	ctx := t.Context()
	if err := e.UpdateNode(ctx, pubsub.NodeInfo{ID: "a", Version: "1", Clients: 3}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.UpdateNode(ctx, pubsub.NodeInfo{ID: "b", Clients: 1}, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	nodes, err := e.Nodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "a" || nodes[0].Clients != 3 || nodes[1].ID != "b" {
		t.Fatalf("nodes %+v, %v", nodes, err)
	}
	eventually(t, "node b to expire", func() bool {
		nodes, err := e.Nodes(ctx)
		return err == nil && len(nodes) == 1 && nodes[0].ID == "a"
	})

	if err := e.ReportChannels(ctx, "a", map[string]int{"p|news": 2, "p|chat/1": 1, "q|news": 5}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := e.ReportChannels(ctx, "b", map[string]int{"p|news": 3}, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern string
		want    map[string]int
	}{
		{"p|*", map[string]int{"p|news": 5}}, // path.Match: * stops at /
		{"*|news", map[string]int{"p|news": 5, "q|news": 5}},
		{"p|chat/*", map[string]int{"p|chat/1": 1}},
		{"", map[string]int{"p|news": 5, "p|chat/1": 1, "q|news": 5}},
		{"z|*", map[string]int{}},
	}
	for _, tt := range tests {
		got, err := e.Channels(ctx, tt.pattern)
		if err != nil || !equalCounts(got, tt.want) {
			t.Errorf("Channels(%q) = %v, %v; want %v", tt.pattern, got, err, tt.want)
		}
	}
	if _, err := e.Channels(ctx, "["); err == nil {
		t.Error("bad pattern accepted")
	}
	eventually(t, "node b's counts to expire", func() bool {
		got, err := e.Channels(ctx, "p|news")
		return err == nil && got["p|news"] == 2
	})
	// A new report replaces the old one.
	if err := e.ReportChannels(ctx, "a", map[string]int{"p|news": 1}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got, err := e.Channels(ctx, "*"); err != nil || !equalCounts(got, map[string]int{"p|news": 1}) {
		t.Errorf("after new report: %v, %v", got, err)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
