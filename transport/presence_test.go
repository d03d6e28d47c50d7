package transport

import (
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// presenceEvent is the data of join and leave events.
type presenceEvent struct {
	Channel string `json:"channel"`
	Client  string `json:"client"`
	User    string `json:"user"`
}

// presenceNow returns client → user of a channel through the server API.
func (s *testServer) presenceNow(channel string) map[string]string {
	s.t.Helper()
	var out struct {
		Result struct {
			Clients map[string]struct{ User string }
		}
		Error *wireError
	}
	if st := s.api("presence", map[string]string{"channel": channel}, &out); st != 200 || out.Error != nil {
		s.t.Fatalf("presence: %d %+v", st, out.Error)
	}
	m := map[string]string{}
	for c, i := range out.Result.Clients {
		m[c] = i.User
	}
	return m
}

// expectMarker publishes a marker to channel and checks it is the very next
// event of st: nothing (no join, no leave) came before it.
func (s *testServer) expectMarker(st *sseStream, channel string, n int) {
	s.t.Helper()
	s.publish(channel, map[string]int{"n": n})
	ev := st.next()
	if ev.Event != "pub" || decode[pubData](s.t, ev.Data).Data.N != n {
		s.t.Fatalf("got %s %s before marker %d", ev.Event, ev.Data, n)
	}
}

// TestJoinLeaveGrace: reopening a stream or switching to polling within
// the grace sends nothing; closing for good sends one leave after it.
func TestJoinLeaveGrace(t *testing.T) {
	t.Parallel()
	s := startServer(t) // LeaveGrace 200ms
	const grace = 200 * time.Millisecond
	obs := s.connect(s.token("ub"))
	obsStream := s.openSSE(q("session", obs.Session, "grant", s.subscribe(obs.Session, "room")), nil)
	if j := decode[presenceEvent](t, obsStream.next("join").Data); j.Client != obs.Client {
		t.Fatalf("own join = %+v", j)
	}
	a := s.connect(s.token("ua"))
	query := q("session", a.Session, "grant", s.subscribe(a.Session, "room"))
	st := s.openSSE(query, nil)
	if j := decode[presenceEvent](t, obsStream.next("join").Data); j.Client != a.Client || j.User != "ua" || j.Channel != "room" {
		t.Fatalf("join = %+v", j)
	}
	want := map[string]string{obs.Client: "ub", a.Client: "ua"}
	if got := s.presenceNow("room"); !equalMaps(got, want) {
		t.Fatalf("presence = %v, want %v", got, want)
	}
	// Reopen within the grace, then switch to a poll and back.
	st.close()
	st = s.openSSE(query, nil)
	st.next("sub")
	id := st.lastID
	st.close()
	if code, r := s.poll(query + "&timeout=0&since=" + id); code != 200 {
		t.Fatalf("poll: %d %+v", code, r)
	}
	st = s.openSSE(query+"&since="+id, nil)
	time.Sleep(2 * grace)
	s.expectMarker(obsStream, "room", 1)
	if got := s.presenceNow("room"); !equalMaps(got, want) {
		t.Fatalf("presence after reopen = %v, want %v", got, want)
	}
	// Close for good: one leave, after the grace.
	closed := time.Now()
	st.close()
	l := decode[presenceEvent](t, obsStream.next("leave").Data)
	if l.Client != a.Client || l.User != "ua" {
		t.Fatalf("leave = %+v", l)
	}
	if d := time.Since(closed); d < grace*3/4 {
		t.Errorf("leave came %v after close, before the %v grace", d, grace)
	}
	time.Sleep(grace)
	s.expectMarker(obsStream, "room", 2)
	if got := s.presenceNow("room"); !equalMaps(got, map[string]string{obs.Client: "ub"}) {
		t.Fatalf("presence after leave = %v", got)
	}
	var stats struct {
		Result struct{ Clients, Users int }
	}
	if s.api("presence_stats", map[string]string{"channel": "room"}, &stats); stats.Result.Clients != 1 || stats.Result.Users != 1 {
		t.Fatalf("presence_stats = %+v", stats.Result)
	}
}

// TestUnsubscribeLeavesAtOnce: the unsubscribe command sends leave with no
// grace and unsub to the client's streams.
func TestUnsubscribeLeavesAtOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(o *Options, _ *structure.Project) { o.LeaveGrace = time.Hour })
	obs := s.connect(s.token("ub"))
	obsStream := s.openSSE(q("session", obs.Session, "grant", s.subscribe(obs.Session, "room")), nil)
	obsStream.next("join")
	a := s.connect(s.token("ua"))
	st := s.openSSE(q("session", a.Session, "grant", s.subscribe(a.Session, "room")), nil)
	obsStream.next("join")
	if r := s.command(a.Session, cmd{Method: "unsubscribe", Params: map[string]any{"channel": "room"}})[0]; r.Error != nil {
		t.Fatalf("unsubscribe: %+v", r.Error)
	}
	if u := decode[struct {
		Channel string
		Code    int
	}](t, st.next("unsub").Data); u.Channel != "room" || u.Code != 2000 {
		t.Fatalf("unsub = %+v", u)
	}
	if l := decode[presenceEvent](t, obsStream.next("leave").Data); l.Client != a.Client {
		t.Fatalf("leave = %+v", l)
	}
	if got := s.presenceNow("room"); !equalMaps(got, map[string]string{obs.Client: "ub"}) {
		t.Fatalf("presence = %v", got)
	}
	// Closing the stream afterwards sends no second leave.
	st.close()
	s.expectMarker(obsStream, "room", 1)
}

// TestPollerPresence: a poller is present while it polls.
func TestPollerPresence(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	a := s.connect(s.token("ua"))
	query := q("session", a.Session, "grant", s.subscribe(a.Session, "room"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, r := s.poll(query)
		s.poll(query + "&timeout=2&since=" + r.ID)
	}()
	eventually(t, "poller present", func() bool { return s.presenceNow("room")[a.Client] == "ua" })
	<-done
	eventually(t, "poller gone after the grace", func() bool { return len(s.presenceNow("room")) == 0 })
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
