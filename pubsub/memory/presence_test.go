package memory

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func TestPresence(t *testing.T) {
	t.Parallel()
	type step struct {
		add     *pubsub.ClientInfo
		ttl     time.Duration
		remove  string
		advance time.Duration
	}
	c := func(client, user string) *pubsub.ClientInfo { return &pubsub.ClientInfo{Client: client, User: user} }
	tests := []struct {
		name      string
		steps     []step
		want      []string
		wantStats pubsub.PresenceStats
	}{
		{"empty", nil, nil, pubsub.PresenceStats{}},
		{"two clients one user", []step{{add: c("c1", "u1"), ttl: time.Minute}, {add: c("c2", "u1"), ttl: time.Minute}},
			[]string{"c1", "c2"}, pubsub.PresenceStats{Clients: 2, Users: 1}},
		{"distinct users and anonymous", []step{
			{add: c("c1", "u1"), ttl: time.Minute}, {add: c("c2", "u2"), ttl: time.Minute},
			{add: c("c3", ""), ttl: time.Minute}, {add: c("c4", ""), ttl: time.Minute},
		}, []string{"c1", "c2", "c3", "c4"}, pubsub.PresenceStats{Clients: 4, Users: 3}},
		{"expires", []step{{add: c("c1", "u1"), ttl: time.Minute}, {advance: time.Minute}},
			nil, pubsub.PresenceStats{}},
		{"one of two expires", []step{
			{add: c("c1", "u1"), ttl: time.Minute}, {advance: 30 * time.Second},
			{add: c("c2", "u2"), ttl: time.Minute}, {advance: 31 * time.Second},
		}, []string{"c2"}, pubsub.PresenceStats{Clients: 1, Users: 1}},
		{"refresh keeps alive", []step{
			{add: c("c1", "u1"), ttl: time.Minute}, {advance: 50 * time.Second},
			{add: c("c1", "u1"), ttl: time.Minute}, {advance: 50 * time.Second},
		}, []string{"c1"}, pubsub.PresenceStats{Clients: 1, Users: 1}},
		{"overwrite changes user", []step{
			{add: c("c1", "u1"), ttl: time.Minute}, {add: c("c1", "u9"), ttl: time.Minute},
		}, []string{"c1"}, pubsub.PresenceStats{Clients: 1, Users: 1}},
		{"remove", []step{
			{add: c("c1", "u1"), ttl: time.Minute}, {add: c("c2", "u2"), ttl: time.Minute}, {remove: "c1"},
		}, []string{"c2"}, pubsub.PresenceStats{Clients: 1, Users: 1}},
		{"remove unknown", []step{{remove: "nobody"}}, nil, pubsub.PresenceStats{}},
		{"zero ttl uses default", []step{{add: c("c1", "u1")}, {advance: 59 * time.Second}},
			[]string{"c1"}, pubsub.PresenceStats{Clients: 1, Users: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			e := New(Options{Now: clock.Now})
			ctx := t.Context()
			var last *pubsub.ClientInfo
			for _, st := range tt.steps {
				switch {
				case st.add != nil:
					if err := e.AddPresence(ctx, "k", st.add, st.ttl); err != nil {
						t.Fatal(err)
					}
					last = st.add
				case st.remove != "":
					if err := e.RemovePresence(ctx, "k", st.remove); err != nil {
						t.Fatal(err)
					}
				default:
					clock.Advance(st.advance)
				}
			}
			got, err := e.Presence(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, tt.want) {
				t.Errorf("presence = %v, want %v", ids, tt.want)
			}
			if last != nil && got[last.Client] != nil && got[last.Client] != last {
				t.Errorf("presence of %s is not the last info added", last.Client)
			}
			stats, err := e.PresenceStats(ctx, "k")
			if err != nil {
				t.Fatal(err)
			}
			if stats != tt.wantStats {
				t.Errorf("stats = %+v, want %+v", stats, tt.wantStats)
			}
			// Expired entries are gone once read, not only hidden.
			if n := e.Len().Presence; n != len(tt.want) {
				t.Errorf("%d presence entries held, want %d", n, len(tt.want))
			}
		})
	}
}

func TestPresenceKeysIndependent(t *testing.T) {
	t.Parallel()
	e := New(Options{})
	ctx := t.Context()
	if err := e.AddPresence(ctx, "a", &pubsub.ClientInfo{Client: "c1", User: "u1"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := e.Presence(ctx, "b")
	if err != nil || len(got) != 0 {
		t.Fatalf("presence of b = %v, %v", got, err)
	}
}
