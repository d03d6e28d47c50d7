package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// slowBody is a raw HTTP/1.1 request on its own loopback connection
// whose body is sent by hand, so a test can dribble it.
type slowBody struct {
	t    *testing.T
	conn net.Conn
}

// startSlowBody sends the headers of a POST to path announcing length
// bytes of body, and the first byte of it.
func startSlowBody(t *testing.T, s *testServer, path string, length int) *slowBody {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
		"Authorization: apikey p-api-key\r\nContent-Length: %d\r\n\r\n{", path, length)
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	return &slowBody{t: t, conn: conn}
}

// response reads the answer to the request.
func (b *slowBody) response() (*http.Response, []byte) {
	b.t.Helper()
	_ = b.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(b.conn), nil)
	if err != nil {
		b.t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// TestSlowBodyCut: a body sent one byte a second is answered 408 once
// the body timeout passes, on every route that reads a body.
func TestSlowBodyCut(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	s := startServer(t, func(o *Options, _ *structure.Project) { o.BodyTimeout = timeout })
	for _, path := range []string{"/connection/p/connect", "/connection/p/command", "/api/publish"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			b := startSlowBody(t, s, path, 1000)
			done := make(chan struct{})
			defer close(done)
			go func() {
				tick := time.NewTicker(time.Second)
				defer tick.Stop()
				for {
					select {
					case <-done:
						return
					case <-tick.C:
						if _, err := io.WriteString(b.conn, " "); err != nil {
							return
						}
					}
				}
			}()
			resp, body := b.response()
			elapsed := time.Since(start)
			if resp.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("status %d (%s), want 408", resp.StatusCode, body)
			}
			if e := decode[errorReply](t, string(body)); e.Error.Code != 107 {
				t.Fatalf("code %d, want 107", e.Error.Code)
			}
			if elapsed < timeout || elapsed > timeout+5*time.Second {
				t.Fatalf("answered after %v, want about %v", elapsed, timeout)
			}
			// The connection is closed, not kept for another request.
			_ = b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := b.conn.Read(make([]byte, 1)); err == nil {
				t.Fatal("connection still open after 408")
			}
		})
	}
}

// TestSlowBodiesHoldIPSlots: bodies still arriving count toward
// connections_per_ip, so the next request or stream from that IP is
// refused with 106; a body that completes gives its slot back.
func TestSlowBodiesHoldIPSlots(t *testing.T) {
	t.Parallel()
	const limit = 3
	s := startServer(t, func(o *Options, _ *structure.Project) { o.Limits.ConnectionsPerIP = limit })
	session, grants := limitSession(t, s, "u1", "news")
	paths := []string{"/connection/p/connect", "/connection/p/command", "/api/publish"}
	bodies := make([]*slowBody, limit)
	for i := range bodies {
		bodies[i] = startSlowBody(t, s, paths[i], 2)
	}
	eventually(t, "slow bodies to hold their slots", func() bool {
		return s.node.Node().Limits().Held("127.0.0.1") == limit
	})
	expectRefused(t, s, grantQuery(session, grants...), http.StatusTooManyRequests, 106)
	// Another slow body is refused at once, not after its body arrives.
	start := time.Now()
	if resp, body := startSlowBody(t, s, paths[0], 2).response(); resp.StatusCode != http.StatusTooManyRequests || time.Since(start) > 5*time.Second {
		t.Fatalf("slow body over the limit: %d %s after %v, want 429 at once", resp.StatusCode, body, time.Since(start))
	}
	st, body, _ := s.post("/connection/p/connect", map[string]string{}, nil)
	if st != http.StatusTooManyRequests || decode[errorReply](t, string(body)).Error.Code != 106 {
		t.Fatalf("connect with %d slow bodies open: %d %s, want 429 with 106", limit, st, body)
	}

	// One body completes: its slot is free again.
	if _, err := io.WriteString(bodies[0].conn, "}"); err != nil {
		t.Fatal(err)
	}
	if resp, body := bodies[0].response(); resp.StatusCode != http.StatusOK {
		t.Fatalf("completed body: %d %s", resp.StatusCode, body)
	}
	eventually(t, "a slot to free", func() bool {
		return s.node.Node().Limits().Held("127.0.0.1") == limit-1
	})
	stream := s.openSSE(grantQuery(session, grants...), nil)
	stream.close()
}

// TestMaxBodyEveryEndpoint: client.max_body is the largest body every
// endpoint accepts, whether its length is announced or chunked; one byte
// more is 413 with 106.
func TestMaxBodyEveryEndpoint(t *testing.T) {
	t.Parallel()
	const maxBody = 4096
	s := startServer(t, func(o *Options, _ *structure.Project) { o.MaxBody = maxBody })
	session := s.connect(s.token("u1")).Session
	bodies := []struct {
		path string
		// body returns a valid JSON body of exactly size bytes.
		body func(size int) []byte
	}{
		{"/connection/p/connect", func(size int) []byte { return pad([]byte(`{"token":"`+s.token("u1")+`"}`), size) }},
		{"/connection/p/command", func(size int) []byte {
			return pad([]byte(`{"session":"`+session+`","commands":[{"id":1,"method":"ping"}]}`), size)
		}},
		{"/api/publish", func(size int) []byte {
			prefix := `{"channel":"news","data":"`
			return []byte(prefix + strings.Repeat("a", size-len(prefix)-2) + `"}`)
		}},
		{"/api/broadcast", func(size int) []byte {
			prefix := `{"channels":["news"],"data":"`
			return []byte(prefix + strings.Repeat("a", size-len(prefix)-2) + `"}`)
		}},
	}
	for _, b := range bodies {
		for _, c := range []struct {
			size    int
			chunked bool
			status  int
		}{
			{maxBody - 1, false, 200},
			{maxBody, false, 200},
			{maxBody + 1, false, 413},
			{maxBody, true, 200},
			{maxBody + 1, true, 413},
		} {
			t.Run(fmt.Sprintf("%s/%d/chunked=%v", b.path, c.size, c.chunked), func(t *testing.T) {
				t.Parallel()
				body := b.body(c.size)
				if len(body) != c.size {
					t.Fatalf("test body is %d bytes, want %d", len(body), c.size)
				}
				var r io.Reader = bytes.NewReader(body)
				if c.chunked {
					r = io.MultiReader(r) // hides the length: sent chunked
				}
				req, _ := http.NewRequest(http.MethodPost, s.url+b.path, r)
				req.Header.Set("Authorization", "apikey p-api-key")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				rb, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != c.status {
					t.Fatalf("status %d (%s), want %d", resp.StatusCode, rb, c.status)
				}
				if c.status == 413 {
					if e := decode[errorReply](t, string(rb)); e.Error.Code != 106 {
						t.Fatalf("code %d, want 106", e.Error.Code)
					}
				} else if bytes.Contains(rb, []byte(`"error"`)) {
					t.Fatalf("error in answer: %s", rb)
				}
			})
		}
	}
}

// TestOversizeSlowBodyRefusedAtOnce: a body whose Content-Length is over
// client.max_body is answered 413 without waiting for it to arrive.
func TestOversizeSlowBodyRefusedAtOnce(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(o *Options, _ *structure.Project) { o.MaxBody = 1024; o.BodyTimeout = time.Minute })
	for _, path := range []string{"/connection/p/connect", "/connection/p/command", "/api/publish"} {
		start := time.Now()
		resp, body := startSlowBody(t, s, path, 2048).response()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || time.Since(start) > 5*time.Second {
			t.Fatalf("%s: %d %s after %v, want 413 at once", path, resp.StatusCode, body, time.Since(start))
		}
	}
}

// pad appends spaces to a JSON body until it is size bytes.
func pad(b []byte, size int) []byte {
	return append(b, bytes.Repeat([]byte(" "), size-len(b))...)
}

// TestGuardBodies: routes that bound their own bodies (the admin UI) get
// the read deadline and the per-IP accounting, but not client.max_body.
func TestGuardBodies(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	s := startServer(t, func(o *Options, _ *structure.Project) {
		o.BodyTimeout = timeout
		o.MaxBody = 1024
		o.Limits.ConnectionsPerIP = 1
	})
	read := make(chan error, 4)
	h := s.node.GuardBodies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		read <- err
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	// Larger than client.max_body: its own limits apply, not that one.
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader(strings.Repeat("x", 64<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || <-read != nil {
		t.Fatalf("64 KiB body: status %d", resp.StatusCode)
	}

	// A slow body holds the IP's one slot, so another is refused, and it
	// is cut at the deadline.
	slow := startSlowBody(t, &testServer{url: srv.URL}, "/", 100)
	eventually(t, "the slow body to hold the slot", func() bool {
		return s.node.Node().Limits().Held("127.0.0.1") == 1
	})
	resp, err = http.Post(srv.URL, "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second body from the IP: status %d, want 429", resp.StatusCode)
	}
	start := time.Now()
	select {
	case err := <-read:
		if !errors.Is(err, errBodyTimeout) {
			t.Fatalf("slow body read: %v, want the body timeout", err)
		}
	case <-time.After(timeout + 10*time.Second):
		t.Fatal("slow body never cut")
	}
	if elapsed := time.Since(start); elapsed > timeout+5*time.Second {
		t.Fatalf("cut after %v", elapsed)
	}
	slow.response()
}

// TestBodyGuardHTTP2: over HTTP/2 the body deadline applies per stream (a
// dribbled body is answered 408), and a refused body ends its own stream
// only: a stream open on the same connection keeps going.
func TestBodyGuardHTTP2(t *testing.T) {
	t.Parallel()
	const timeout = 2 * time.Second
	s := startServer(t, func(o *Options, _ *structure.Project) { o.BodyTimeout = timeout; o.MaxBody = 1024 })
	h2 := httptest.NewUnstartedServer(s.handler)
	h2.EnableHTTP2 = true
	h2.StartTLS()
	t.Cleanup(h2.Close)
	client := h2.Client()

	session, grants := limitSession(t, s, "u1", "news")
	resp, err := client.Get(h2.URL + "/connection/p/sse?" + grantQuery(session, grants...))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %s %d", resp.Proto, resp.StatusCode)
	}
	stream := bufio.NewReader(resp.Body)
	waitLine := func(prefix string) {
		t.Helper()
		for {
			line, err := stream.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended waiting for %q: %v", prefix, err)
			}
			if strings.HasPrefix(line, prefix) {
				return
			}
		}
	}
	waitLine("event: sub")

	// Announced oversize body: 413 on its stream.
	req, _ := http.NewRequest(http.MethodPost, h2.URL+"/api/publish", strings.NewReader(strings.Repeat(" ", 2048)))
	req.Header.Set("Authorization", "apikey p-api-key")
	r413, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r413.Body.Close()
	if r413.StatusCode != http.StatusRequestEntityTooLarge || r413.ProtoMajor != 2 {
		t.Fatalf("oversize body: %s %d, want HTTP/2 413", r413.Proto, r413.StatusCode)
	}

	// A dribbled body: 408 once the deadline passes.
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "{")
		for range 10 {
			time.Sleep(time.Second)
			if _, err := io.WriteString(pw, " "); err != nil {
				return
			}
		}
		pw.Close()
	}()
	t.Cleanup(func() { pw.CloseWithError(io.ErrClosedPipe) })
	// It goes on the same connection: the 413 did not wind it down.
	reused := false
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ = http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodPost, h2.URL+"/api/publish", pr)
	req.Header.Set("Authorization", "apikey p-api-key")
	start := time.Now()
	r408, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r408.Body.Close()
	if r408.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("dribbled body: %d, want 408", r408.StatusCode)
	}
	if !reused {
		t.Fatal("the request after a 413 needed a new connection")
	}
	if elapsed := time.Since(start); elapsed < timeout || elapsed > timeout+5*time.Second {
		t.Fatalf("answered after %v, want about %v", elapsed, timeout)
	}

	// The stream on the same connection still delivers.
	s.publish("news", map[string]int{"n": 1})
	waitLine("event: pub")
}
