package enginetest

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func (s *suite) presenceTests() []test {
	type step struct {
		add    *pubsub.ClientInfo
		ttl    time.Duration
		remove string
		pass   time.Duration
	}
	c := func(client, user string) *pubsub.ClientInfo { return &pubsub.ClientInfo{Client: client, User: user} }
	long := 6 * unit // alive checks keep at least two units to spare
	cases := []struct {
		name      string
		steps     []step
		want      []string
		wantStats pubsub.PresenceStats
		fakeClock bool // needs Instance.Advance
	}{
		{name: "empty"},
		{name: "two clients one user",
			steps: []step{{add: c("c1", "u1"), ttl: long}, {add: c("c2", "u1"), ttl: long}},
			want:  []string{"c1", "c2"}, wantStats: pubsub.PresenceStats{Clients: 2, Users: 1}},
		{name: "distinct users, anonymous count as one",
			steps: []step{{add: c("c1", "u1"), ttl: long}, {add: c("c2", "u2"), ttl: long}, {add: c("c3", ""), ttl: long}, {add: c("c4", ""), ttl: long}},
			want:  []string{"c1", "c2", "c3", "c4"}, wantStats: pubsub.PresenceStats{Clients: 4, Users: 3}},
		{name: "expires",
			steps: []step{{add: c("c1", "u1"), ttl: 2 * unit}, {pass: 2 * unit}}},
		{name: "one of two expires",
			steps: []step{{add: c("c1", "u1"), ttl: 4 * unit}, {pass: 2 * unit}, {add: c("c2", "u2"), ttl: long}, {pass: 2 * unit}},
			want:  []string{"c2"}, wantStats: pubsub.PresenceStats{Clients: 1, Users: 1}},
		{name: "adding again refreshes",
			steps: []step{{add: c("c1", "u1"), ttl: long}, {pass: 4 * unit}, {add: c("c1", "u1"), ttl: long}, {pass: 4 * unit}},
			want:  []string{"c1"}, wantStats: pubsub.PresenceStats{Clients: 1, Users: 1}},
		{name: "adding again may shorten",
			steps: []step{{add: c("c1", "u1"), ttl: long}, {add: c("c1", "u1"), ttl: unit}, {pass: unit}}},
		{name: "adding again replaces the info",
			steps: []step{{add: c("c1", "u1"), ttl: long}, {add: c("c1", "u9"), ttl: long}},
			want:  []string{"c1"}, wantStats: pubsub.PresenceStats{Clients: 1, Users: 1}},
		{name: "remove",
			steps: []step{{add: c("c1", "u1"), ttl: long}, {add: c("c2", "u2"), ttl: long}, {remove: "c1"}},
			want:  []string{"c2"}, wantStats: pubsub.PresenceStats{Clients: 1, Users: 1}},
		{name: "remove unknown", steps: []step{{remove: "nobody"}}},
		{name: "zero ttl means 60s", fakeClock: true,
			steps: []step{{add: c("c1", "u1")}, {pass: 59 * time.Second}},
			want:  []string{"c1"}, wantStats: pubsub.PresenceStats{Clients: 1, Users: 1}},
		{name: "zero ttl expires at 60s", fakeClock: true,
			steps: []step{{add: c("c1", "u1")}, {pass: 60 * time.Second}}},
	}
	var tests []test
	for _, tt := range cases {
		tests = append(tests, test{tt.name, func(t *testing.T) {
			e := s.newEngine(t)
			if tt.fakeClock {
				e.needFakeClock(t)
			}
			ctx := t.Context()
			var last *pubsub.ClientInfo
			for _, st := range tt.steps {
				switch {
				case st.add != nil:
					if err := e.AddPresence(ctx, "p|k", st.add, st.ttl); err != nil {
						t.Fatal(err)
					}
					last = st.add
				case st.remove != "":
					if err := e.RemovePresence(ctx, "p|k", st.remove); err != nil {
						t.Fatal(err)
					}
				default:
					e.pass(st.pass)
				}
			}
			got, err := e.Presence(ctx, "p|k")
			if err != nil {
				t.Fatal(err)
			}
			if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, tt.want) {
				t.Errorf("presence %v, want %v", ids, tt.want)
			}
			if last != nil && got[last.Client] != nil && got[last.Client].User != last.User {
				t.Errorf("presence of %s has user %q, want the last added %q", last.Client, got[last.Client].User, last.User)
			}
			stats, err := e.PresenceStats(ctx, "p|k")
			if err != nil {
				t.Fatal(err)
			}
			if stats != tt.wantStats {
				t.Errorf("stats %+v, want %+v", stats, tt.wantStats)
			}
		}})
	}
	return append(tests,
		test{"info round-trips, keys are independent", func(t *testing.T) {
			e := s.newEngine(t)
			ctx := t.Context()
			info := &pubsub.ClientInfo{Client: "c1", User: "u1", Info: json.RawMessage(`{"name":"ann"}`), ChanInfo: json.RawMessage(`{"role":"op"}`)}
			if err := e.AddPresence(ctx, "p|a", info, time.Minute); err != nil {
				t.Fatal(err)
			}
			got, err := e.Presence(ctx, "p|a")
			if err != nil {
				t.Fatal(err)
			}
			if p := got["c1"]; p == nil || p.Client != "c1" || p.User != "u1" || string(p.Info) != string(info.Info) || string(p.ChanInfo) != string(info.ChanInfo) {
				t.Errorf("presence %+v, want %+v", p, info)
			}
			if other, err := e.Presence(ctx, "p|b"); err != nil || len(other) != 0 {
				t.Errorf("presence of another key: %v, %v", other, err)
			}
		}},
		test{"an empty client id is refused", func(t *testing.T) {
			e := s.newEngine(t)
			if err := e.AddPresence(t.Context(), "p|k", &pubsub.ClientInfo{User: "u1"}, time.Minute); err == nil {
				t.Fatal("AddPresence without a client id succeeded")
			}
			if p, err := e.Presence(t.Context(), "p|k"); err != nil || len(p) != 0 {
				t.Fatalf("presence %v, %v", p, err)
			}
		}},
		test{"another node sees the same presence", func(t *testing.T) {
			e := s.newEngine(t)
			if e.in.Peer == nil {
				t.Skip("one process: no other node")
			}
			peer := e.peer(t)
			ctx := t.Context()
			if err := e.AddPresence(ctx, "p|k", &pubsub.ClientInfo{Client: "c1", User: "u1"}, time.Minute); err != nil {
				t.Fatal(err)
			}
			if st, err := peer.PresenceStats(ctx, "p|k"); err != nil || st != (pubsub.PresenceStats{Clients: 1, Users: 1}) {
				t.Fatalf("stats on the other node: %+v, %v", st, err)
			}
			if err := peer.RemovePresence(ctx, "p|k", "c1"); err != nil {
				t.Fatal(err)
			}
			if p, err := e.Presence(ctx, "p|k"); err != nil || len(p) != 0 {
				t.Fatalf("after removal on the other node: %v, %v", p, err)
			}
		}},
	)
}

func (s *suite) revokeTests() []test {
	base := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	type mark struct {
		before time.Time
		ttl    time.Duration
	}
	cases := []struct {
		name      string
		marks     []mark
		pass      time.Duration
		want      time.Time
		fakeClock bool
	}{
		{name: "none"},
		{name: "live", marks: []mark{{base, 6 * unit}}, pass: 2 * unit, want: base},
		{name: "expired", marks: []mark{{base, 2 * unit}}, pass: 2 * unit},
		{name: "a later before replaces", marks: []mark{{base, time.Minute}, {base.Add(time.Second), time.Minute}}, want: base.Add(time.Second)},
		{name: "an earlier before is ignored", marks: []mark{{base.Add(time.Second), time.Minute}, {base, time.Minute}}, want: base.Add(time.Second)},
		{name: "a shorter ttl does not shorten", marks: []mark{{base, 6 * unit}, {base, unit}}, pass: 3 * unit, want: base},
		{name: "a later before with a shorter ttl does not shorten", marks: []mark{{base, 6 * unit}, {base.Add(time.Second), unit}}, pass: 3 * unit, want: base.Add(time.Second)},
		{name: "an earlier before still extends", marks: []mark{{base.Add(time.Second), unit}, {base, 6 * unit}}, pass: 3 * unit, want: base.Add(time.Second)},
		{name: "a longer ttl extends", marks: []mark{{base, unit}, {base, 6 * unit}}, pass: 3 * unit, want: base},
		{name: "zero ttl means 24h", marks: []mark{{base, 0}}, pass: 24*time.Hour - time.Second, want: base, fakeClock: true},
		{name: "zero ttl expires at 24h", marks: []mark{{base, 0}}, pass: 24 * time.Hour, fakeClock: true},
	}
	var tests []test
	for _, tt := range cases {
		tests = append(tests, test{tt.name, func(t *testing.T) {
			e := s.newEngine(t)
			if tt.fakeClock {
				e.needFakeClock(t)
			}
			for _, m := range tt.marks {
				if err := e.Revoke(t.Context(), "p|u1", m.before, m.ttl); err != nil {
					t.Fatal(err)
				}
			}
			e.pass(tt.pass)
			got, err := e.RevokedBefore(t.Context(), "p|u1")
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("RevokedBefore %v, want %v", got, tt.want)
			}
			if other, err := e.RevokedBefore(t.Context(), "p|u2"); err != nil || !other.IsZero() {
				t.Errorf("another user is revoked: %v, %v", other, err)
			}
		}})
	}
	return tests
}
