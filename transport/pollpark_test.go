package transport

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
	"github.com/rotor-rt/rotor/transport/longpoll"
)

// parkForever gives s a parking that never sweeps by itself, so a test
// decides when parked polls expire.
func (s *testServer) parkForever() *longpoll.Parking {
	s.node.polls = longpoll.NewParking(time.Hour)
	return s.node.polls
}

// pubsOf returns the n of the pub events of r, in order.
func pubsOf(t *testing.T, r pollReply) []int {
	t.Helper()
	var ns []int
	for _, ev := range r.Events {
		if ev.Event == "pub" {
			ns = append(ns, decode[pubData](t, string(ev.Data)).Data.N)
		}
	}
	return ns
}

// TestPollParked: an answered poll of the inline form parks its
// subscription; the client's next poll resumes it, with what was
// published in between, whatever the channel's history.
func TestPollParked(t *testing.T) {
	t.Parallel()
	for _, ch := range []string{"small:x", "nohist:x"} {
		t.Run(ch, func(t *testing.T) {
			s := startServer(t)
			park := s.parkForever()
			base := q("token", s.token("u"), "channel", ch)
			st, first := s.poll(base)
			if st != 200 || len(first.Events) != 1 || first.Events[0].Event != "sub" {
				t.Fatalf("first poll: %d %+v", st, first)
			}
			if park.Len() != 1 {
				t.Fatalf("%d polls parked after the first answer, want 1", park.Len())
			}
			// Published while no poll waits: the parked stream keeps it.
			for n := 1; n <= 3; n++ {
				s.publish(ch, map[string]int{"n": n})
			}
			st, next := s.poll(base + "&timeout=5&since=" + first.ID)
			if got := pubsOf(t, next); st != 200 || len(got) != 3 || got[0] != 1 || got[2] != 3 || len(next.Events) != 3 {
				t.Fatalf("resumed poll: %d %+v, want pubs 1..3 and nothing else", st, next)
			}
			// timeout=0 answers at once, with what is queued.
			s.publish(ch, map[string]int{"n": 4})
			st, now := s.poll(base + "&timeout=0&since=" + next.ID)
			if got := pubsOf(t, now); st != 200 || len(got) != 1 || got[0] != 4 {
				t.Fatalf("timeout=0 poll: %d %+v, want pub 4", st, now)
			}
			if n := park.Sweep(time.Now().Add(2 * time.Hour)); n != 1 {
				t.Fatalf("sweep closed %d parked polls, want 1", n)
			}
		})
	}
}

// TestPollParkedFallsBack: a poll that cannot resume a parked
// subscription answers as a new one would: another since, an expired
// token, a channel the server unsubscribed the user from.
func TestPollParkedFallsBack(t *testing.T) {
	t.Parallel()
	t.Run("older since recovers from history", func(t *testing.T) {
		s := startServer(t)
		park := s.parkForever()
		base := q("token", s.token("u"), "channel", "small:x")
		_, first := s.poll(base)
		s.publish("small:x", map[string]int{"n": 1})
		_, second := s.poll(base + "&timeout=5&since=" + first.ID)
		// The client lost that answer and asks again from first.ID.
		_, again := s.poll(base + "&timeout=5&since=" + first.ID)
		if got := pubsOf(t, again); len(got) != 1 || got[0] != 1 || again.ID != second.ID {
			t.Fatalf("repeated poll: %+v, want pub 1 again and id %s", again, second.ID)
		}
		if park.Len() != 2 {
			t.Fatalf("%d parked, want 2 (both answers)", park.Len())
		}
	})
	t.Run("expired token", func(t *testing.T) {
		s := startServer(t)
		s.parkForever()
		tok, err := auth.MintConnectionToken([]byte(testSecret), auth.ConnectionClaims{User: "u", Expires: time.Now().Add(2 * time.Second)})
		if err != nil {
			t.Fatal(err)
		}
		base := q("token", tok, "channel", "small:x")
		_, first := s.poll(base)
		time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(3 * time.Second)))
		if st, r := s.poll(base + "&timeout=1&since=" + first.ID); st != 401 || r.Error == nil || r.Error.Code != 109 {
			t.Fatalf("poll with an expired token: %d %+v, want 401 code 109", st, r)
		}
	})
	t.Run("unsubscribed by the server", func(t *testing.T) {
		s := startServer(t)
		park := s.parkForever()
		base := q("token", s.token("u"), "channel", "small:x")
		_, first := s.poll(base)
		if st := s.api("unsubscribe", map[string]any{"channel": "small:x", "user": "u"}, nil); st != 200 {
			t.Fatalf("unsubscribe: %d", st)
		}
		// The memory engine unsubscribes the parked stream before the API
		// answers. A new stream subscribes again: an idle answer, no unsub.
		st, r := s.poll(base + "&timeout=1&since=" + first.ID)
		if st != 200 || len(r.Events) != 0 || r.ID != first.ID {
			t.Fatalf("poll after unsubscribe: %d %+v, want no events and id %s", st, r, first.ID)
		}
		if park.Len() != 1 {
			t.Fatalf("%d parked, want the new stream only", park.Len())
		}
	})
}

// TestPollNotParked: the grant form, private channels and per-IP or
// per-client limits never park.
func TestPollNotParked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		opt   serverOption
		query func(s *testServer) string
	}{
		{name: "grant form", query: func(s *testServer) string {
			c := s.connect(s.token("u"))
			return q("session", c.Session, "grant", s.subscribe(c.Session, "news"))
		}},
		{name: "connections_per_ip", opt: func(o *Options, _ *structure.Project) { o.Limits.ConnectionsPerIP = 10 }},
		{name: "streams_per_client", opt: func(o *Options, _ *structure.Project) { o.Limits.StreamsPerClient = 10 }},
		{name: "channels_per_client", opt: func(o *Options, _ *structure.Project) { o.Limits.ChannelsPerClient = 10 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []serverOption
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			s := startServer(t, opts...)
			park := s.parkForever()
			query := q("token", s.token("u"), "channel", "small:x")
			if tt.query != nil {
				query = tt.query(s)
			}
			if st, r := s.poll(query); st != 200 || len(r.Events) == 0 {
				t.Fatalf("poll: %d %+v", st, r)
			}
			if park.Len() != 0 {
				t.Fatalf("%d parked, want none", park.Len())
			}
		})
	}
}

// TestPollParkedShutdown: shutdown closes parked polls instead of
// waiting for them.
func TestPollParkedShutdown(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	park := s.parkForever()
	s.poll(q("token", s.token("u"), "channel", "small:x"))
	if park.Len() != 1 {
		t.Fatalf("%d parked, want 1", park.Len())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.node.Shutdown(ctx, pubsubShutdown()); err != nil {
		t.Fatalf("shutdown with a parked poll: %v", err)
	}
	if park.Len() != 0 {
		t.Fatalf("%d still parked after shutdown", park.Len())
	}
}

// TestPollClientLeaves: a poll that waits ends when its client leaves,
// not at its timeout: the poller's presence goes after the grace.
func TestPollClientLeaves(t *testing.T) {
	t.Parallel()
	s := startServer(t) // LeaveGrace 200ms
	a := s.connect(s.token("ua"))
	query := q("session", a.Session, "grant", s.subscribe(a.Session, "room"))
	_, first := s.poll(query)
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/connection/p/poll?"+query+"&timeout=60&since="+first.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		waited <- err
	}()
	eventually(t, "poller present", func() bool { return s.presenceNow("room")[a.Client] == "ua" })
	time.Sleep(100 * time.Millisecond) // the poll waits
	cancel()                           // the client closes its connection
	if err := <-waited; err == nil {
		t.Fatal("the waiting poll was answered")
	}
	eventually(t, "poller gone after the grace", func() bool { return len(s.presenceNow("room")) == 0 })
}
