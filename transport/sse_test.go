package transport

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

func TestSSEQuickStart(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	st := s.openSSE(q("token", s.token("u1"), "channel", "news", "channel", "pub:room"), nil)
	sub := decode[subEvent](t, st.next("sub").Data)
	if sub.Channel != "news" || !sub.Recovered || sub.Offset != 0 {
		t.Fatalf("first sub = %+v", sub)
	}
	if sub2 := decode[subEvent](t, st.next("sub").Data); sub2.Channel != "pub:room" {
		t.Fatalf("second sub = %+v", sub2)
	}
	s.publish("news", map[string]int{"n": 1})
	s.publish("pub:room", map[string]int{"n": 2})
	p1 := decode[pubData](t, st.next("pub").Data)
	p2 := decode[pubData](t, st.next("pub").Data)
	if p1.Channel != "news" || p1.Data.N != 1 || p2.Channel != "pub:room" || p2.Data.N != 2 {
		t.Fatalf("pubs = %+v %+v", p1, p2)
	}
	if got := st.resp.Header.Get("Content-Type"); got != "text/event-stream" {
		t.Errorf("Content-Type = %q", got)
	}
	if got := st.resp.Header.Get("Cache-Control"); got != "no-cache, no-transform" {
		t.Errorf("Cache-Control = %q", got)
	}
	if got := st.resp.Header.Get("X-Accel-Buffering"); got != "no" {
		t.Errorf("X-Accel-Buffering = %q", got)
	}
}

// TestFanOut: 100 subscribers on one channel and 100 on their own
// channels receive every publication, in order.
func TestFanOut(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	const subs, msgs = 100, 50
	tok := s.token("u")
	shared := make([]*sseStream, subs)
	own := make([]*sseStream, subs)
	for i := range subs {
		shared[i] = s.openSSE(q("token", tok, "channel", "shared"), nil)
		own[i] = s.openSSE(q("token", tok, "channel", "own"+itoa(i)), nil)
	}
	for _, st := range append(shared, own...) {
		st.next("sub")
	}
	for n := 1; n <= msgs; n++ {
		s.publish("shared", map[string]int{"n": n})
		for i := range subs {
			s.publish("own"+itoa(i), map[string]int{"n": n})
		}
	}
	var wg sync.WaitGroup
	for _, st := range append(shared, own...) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; n <= msgs; n++ {
				ev := st.next("pub")
				p := decode[pubData](t, ev.Data)
				if p.Data.N != n || p.Offset != uint64(n) {
					t.Errorf("got n=%d offset=%d, want %d", p.Data.N, p.Offset, n)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// TestResumeLastEventID: a stream of 3 channels cut mid-stream resumes
// with Last-Event-ID: no loss, no duplicate.
func TestResumeLastEventID(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.token("u")
	query := q("token", tok, "channel", "a", "channel", "b", "channel", "c")
	st := s.openSSE(query, nil)
	for range 3 {
		st.next("sub")
	}
	chans := []string{"a", "b", "c"}
	want := map[string]int{}
	got := map[string]int{}
	publish := func(rounds int) {
		for range rounds {
			for _, c := range chans {
				want[c]++
				s.publish(c, map[string]int{"n": want[c]})
			}
		}
	}
	receive := func(st *sseStream, count int) {
		for range count {
			p := decode[pubData](t, st.next("pub").Data)
			got[p.Channel]++
			if p.Data.N != got[p.Channel] {
				t.Fatalf("%s: got n=%d, want %d", p.Channel, p.Data.N, got[p.Channel])
			}
		}
	}
	publish(5)
	receive(st, 10) // read part of what was sent, then cut
	lastID := st.lastID
	st.close()
	publish(5) // published while disconnected
	st2 := s.openSSE(query, http.Header{"Last-Event-Id": {lastID}})
	for range 3 {
		if sub := decode[subEvent](t, st2.next("sub").Data); !sub.Recovered {
			t.Fatalf("sub after resume = %+v, want recovered", sub)
		}
	}
	receive(st2, 30-10)
	publish(1)
	receive(st2, 3)
	for _, c := range chans {
		if got[c] != want[c] {
			t.Errorf("%s: got %d publications, want %d", c, got[c], want[c])
		}
	}
}

// TestResumeGapTooLarge: a gap beyond the history gives recovered:false.
func TestResumeGapTooLarge(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	query := q("token", s.token("u"), "channel", "small:x")
	st := s.openSSE(query, nil)
	st.next("sub")
	s.publish("small:x", map[string]int{"n": 1})
	st.next("pub")
	id := st.lastID
	st.close()
	for n := 2; n <= 10; n++ { // history keeps 3
		s.publish("small:x", map[string]int{"n": n})
	}
	st2 := s.openSSE(query+"&since="+id, nil)
	sub := decode[subEvent](t, st2.next("sub").Data)
	if sub.Recovered || sub.Offset != 10 {
		t.Fatalf("sub = %+v, want recovered false at offset 10", sub)
	}
	s.publish("small:x", map[string]int{"n": 11})
	if p := decode[pubData](t, st2.next("pub").Data); p.Data.N != 11 {
		t.Fatalf("next pub = %+v", p)
	}
}

// TestHeartbeat: a quiet stream gets a comment line every ping interval
// (the harness sets 1s), on a hijacked HTTP/1.1 connection and without.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	for _, noHijack := range []bool{false, true} {
		t.Run(map[bool]string{false: "hijacked", true: "handler"}[noHijack], func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(o *Options, _ *structure.Project) { o.NoHijack = noHijack })
			resp, err := http.Get(s.url + "/connection/p/sse?" + q("token", s.token("u"), "channel", "quiet"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			sc := bufio.NewScanner(resp.Body)
			start := time.Now()
			pings := 0
			for pings < 2 && sc.Scan() {
				if sc.Text() == ": ping" {
					pings++
				}
			}
			if pings < 2 {
				t.Fatalf("got %d pings: %v", pings, sc.Err())
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Fatalf("two pings took %v with a 1s interval", el)
			}
		})
	}
}

// TestUnusableLastEventID: a Last-Event-ID the server cannot use (bad
// format, other channels) does not fail the request, which would stop a
// browser's EventSource for good: the stream starts at the current
// positions with recovered:false.
func TestUnusableLastEventID(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	s.publish("a", map[string]int{"n": 1})
	for _, id := range []string{"nope", "abc:1.abc:2", "x y"} {
		st := s.openSSE(q("token", s.token("u"), "channel", "a"), http.Header{"Last-Event-Id": {id}})
		sub := decode[subEvent](t, st.next("sub").Data)
		if sub.Recovered || sub.Offset != 1 {
			t.Fatalf("id %q: sub = %+v, want recovered false at offset 1", id, sub)
		}
		st.close()
	}
}

// TestSSEClientLeaves: a hijacked stream ends soon after its client goes
// away, however it goes, with no write to find out (the heartbeat is an
// hour away); bytes a client sends do not end it.
func TestSSEClientLeaves(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		leave func(c *net.TCPConn)
	}{
		{name: "closes", leave: func(c *net.TCPConn) { _ = c.Close() }},
		{name: "resets", leave: func(c *net.TCPConn) { _ = c.SetLinger(0); _ = c.Close() }},
		{name: "half-closes", leave: func(c *net.TCPConn) { _ = c.CloseWrite() }},
		{name: "sends bytes, then closes", leave: func(c *net.TCPConn) {
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			time.Sleep(50 * time.Millisecond)
			_ = c.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(o *Options, _ *structure.Project) { o.Ping = time.Hour })
			req := "GET /connection/p/sse?" + q("token", s.token("u"), "channel", "news") + " HTTP/1.1\r\nHost: x\r\n\r\n"
			c := dialSSE(t, s.srv.Listener.Addr().String(), []byte(req), make([]byte, 4096))
			defer c.Close()
			if n := s.node.Hub().Streams(); n != 1 {
				t.Fatalf("%d streams open, want 1", n)
			}
			tc.leave(c.(*net.TCPConn))
			eventually(t, "the stream to end", func() bool { return s.node.Hub().Streams() == 0 })
		})
	}
}
