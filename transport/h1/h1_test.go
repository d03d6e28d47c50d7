package h1

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/transport/hangup"
)

// testServer is a real net/http server on loopback whose /wait handler
// hands its connection to an h1 Server and answers later, from another
// goroutine, when release is closed (or tells left, from its context,
// and gone, from OnGone, when the client leaves first).
type testServer struct {
	h1      *Server
	srv     *httptest.Server
	release chan struct{}
	left    chan struct{}
	gone    chan struct{}
	// waiting gets the query of every /wait that waits.
	waiting chan string
	// addr is where dial connects: srv, or the listener of h1.Serve.
	addr string
}

// answer releases one waiting /wait, after checking that q is the one.
func (ts *testServer) answer(t *testing.T, q string) {
	t.Helper()
	select {
	case got := <-ts.waiting:
		if got != q {
			t.Fatalf("waiting request %q, want %q", got, q)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no request waits for %q", q)
	}
	ts.release <- struct{}{}
}

// startTestServer starts a server whose waiting answers park (no
// goroutine while they wait), as rotor serve's do.
func startTestServer(t *testing.T, idle time.Duration, config ...func(*http.Server)) *testServer {
	t.Helper()
	return newTestServer(t, parkWatcher(t), func(srv *http.Server) {
		srv.IdleTimeout = idle
		for _, f := range config {
			f(srv)
		}
	})
}

// parkWatcher is a hangup watcher for the test's server to park with.
func parkWatcher(t *testing.T) *hangup.Watcher {
	t.Helper()
	w, err := hangup.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// startTestServerWith starts a server that parks with w; with none, a
// goroutine per connection waits in a read.
func startTestServerWith(t *testing.T, idle time.Duration, w *hangup.Watcher) *testServer {
	t.Helper()
	return newTestServer(t, w, func(srv *http.Server) { srv.IdleTimeout = idle })
}

// newTestServer starts the test server, parking with w (if not nil), its
// http.Server set up by configure first.
func newTestServer(t *testing.T, w *hangup.Watcher, configure func(*http.Server)) *testServer {
	t.Helper()
	ts := &testServer{h1: New(slog.Default(), 500*time.Millisecond), release: make(chan struct{}), left: make(chan struct{}, 16), gone: make(chan struct{}, 16), waiting: make(chan string, 16)}
	if w != nil {
		ts.h1.ParkWith(w)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/wait", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Kept", "yes")
		var ctx context.Context
		var rw *Response
		if rw = Of(w); rw != nil {
			if !rw.Detach() {
				http.Error(w, "cannot detach", http.StatusInternalServerError)
				return
			}
			ctx = r.Context()
		} else {
			var ok bool
			if ctx, rw, ok = ts.h1.Adopt(w, r); !ok {
				_, _ = io.WriteString(w, "not adopted")
				return
			}
		}
		rw.OnGone(func() { ts.gone <- struct{}{} })
		ts.waiting <- r.URL.RawQuery
		go func() {
			select {
			case <-ts.release:
				_, _ = io.WriteString(rw, "waited "+r.URL.RawQuery)
			case <-ctx.Done():
				ts.left <- struct{}{}
			}
			rw.Finish()
		}()
	})
	mux.HandleFunc("/quick", func(w http.ResponseWriter, r *http.Request) {
		// Detached, then finished before the handler returns.
		rw := Of(w)
		if rw == nil || !rw.Detach() {
			http.Error(w, "cannot detach", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(rw, "quick")
		rw.Finish()
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, h1 := w.(*Response)
		fmt.Fprintf(w, "%s %s %s h1=%v body=%q x=%s", r.Method, r.URL.RequestURI(), r.Proto, h1, b, r.Header.Get("X-Test"))
		if r.Header["Host"] != nil {
			// net/http's server moves the header to r.Host.
			fmt.Fprintf(w, " Host header %q", r.Header["Host"])
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "one;")
		http.NewResponseController(w).Flush()
		_, _ = io.WriteString(w, "two")
	})
	mux.HandleFunc("/hijackecho", func(w http.ResponseWriter, r *http.Request) {
		// Echoes the line the client sends after its request, read
		// through the hijacked reader.
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer c.Close()
		line, _ := brw.ReadString('\n')
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"+line)
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("test panic") })
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nraw")
		_ = c.Close()
	})
	ts.srv = httptest.NewUnstartedServer(mux)
	ts.srv.Config.MaxHeaderBytes = 4096
	configure(ts.srv.Config)
	ts.srv.Start()
	ts.addr = ts.srv.Listener.Addr().String()
	t.Cleanup(func() {
		ts.h1.Shutdown()
		ts.srv.Close()
	})
	return ts
}

// client is a raw keep-alive connection.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (ts *testServer) dial(t *testing.T) *client {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func (c *client) send(reqs ...string) {
	c.t.Helper()
	if _, err := io.WriteString(c.c, strings.Join(reqs, "")); err != nil {
		c.t.Fatal(err)
	}
}

func get(path string, headers ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(headers, "") + "\r\n"
}

// read reads one response and its body.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// closed reports whether the server closed the connection (within 10s).
func (c *client) closed() bool {
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.br.ReadByte()
	return err == io.EOF
}

// adopt sends a first /wait, releases it and checks the answer: the
// connection is the h1 server's from then on.
func (ts *testServer) adopt(t *testing.T) *client {
	t.Helper()
	c := ts.dial(t)
	c.send(get("/wait?first"))
	ts.answer(t, "first")
	if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "waited first" || resp.Header.Get("X-Kept") != "yes" || resp.Close {
		t.Fatalf("first wait: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	return c
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestKeepAlive: once taken over, a connection serves any request with
// the server's handler, waiting ones and plain ones, one after the other.
func TestKeepAlive(t *testing.T) {
	ts := startTestServer(t, 0)
	testKeptRequests(t, ts, ts.adopt(t))
	if ts.h1.Len() != 1 {
		t.Fatalf("h1 holds %d connections, want 1", ts.h1.Len())
	}
}

// testKeptRequests sends every kind of request on c, one after the other,
// and checks each answer and that the connection is kept.
func testKeptRequests(t *testing.T, ts *testServer, c *client) {
	t.Helper()
	tests := []struct {
		name, req, method, want string
		release                 string
		// interim is a 1xx status line expected before the answer.
		interim string
	}{
		{name: "plain GET", req: get("/echo?a=1", "X-Test: t1\r\n"), method: "GET", want: `GET /echo?a=1 HTTP/1.1 h1=true body="" x=t1`},
		{name: "a wait", req: get("/wait?second"), method: "GET", want: "waited second", release: "second"},
		{name: "POST with a body", req: "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", method: "POST", want: `POST /echo HTTP/1.1 h1=true body="hello" x=`},
		{name: "POST, body left unread", req: "POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", method: "POST", want: "cannot detach\n"},
		{name: "Expect: 100-continue", req: "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi", method: "POST", interim: "HTTP/1.1 100 Continue\r\n", want: `POST /echo HTTP/1.1 h1=true body="hi" x=`},
		{name: "chunked body", req: "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", method: "POST", want: `POST /echo HTTP/1.1 h1=true body="abc" x=`},
		{name: "flushed response", req: get("/stream"), method: "GET", want: "one;two"},
		{name: "HEAD", req: "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n", method: "HEAD", want: ""},
		{name: "unknown path", req: get("/nope"), method: "GET", want: "404 page not found\n"},
	}
	for _, tt := range tests {
		c.send(tt.req)
		if tt.release != "" {
			ts.answer(t, tt.release)
		}
		if tt.interim != "" {
			if line, err := c.br.ReadString('\n'); err != nil || line != tt.interim {
				t.Fatalf("%s: %q %v, want %q first", tt.name, line, err, tt.interim)
			}
			if line, _ := c.br.ReadString('\n'); line != "\r\n" {
				t.Fatalf("%s: %q after the interim answer", tt.name, line)
			}
		}
		resp, body := c.read(tt.method)
		if body != tt.want || resp.Close {
			t.Errorf("%s: %d %q close=%v, want %q on a kept connection", tt.name, resp.StatusCode, body, resp.Close, tt.want)
		}
		if tt.method == "HEAD" && resp.ContentLength <= 0 {
			t.Errorf("HEAD: Content-Length %d, want the GET body's", resp.ContentLength)
		}
	}
}

// TestPipelined: requests sent together are answered in order, the
// second after the first's late answer.
func TestPipelined(t *testing.T) {
	forEachWait(t, testPipelined)
}

// forEachWait runs test on a server whose waiting answers park (as
// rotor serve's), and on one without a watcher, where a goroutine per
// connection waits in a read.
func forEachWait(t *testing.T, test func(t *testing.T, ts *testServer)) {
	for _, tc := range []struct {
		name string
		park bool
	}{{"parked", true}, {"reading goroutine", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var w *hangup.Watcher
			if tc.park {
				w = parkWatcher(t)
			}
			test(t, startTestServerWith(t, 0, w))
		})
	}
}

func testPipelined(t *testing.T, ts *testServer) {
	c := ts.adopt(t)
	c.send(get("/wait?p1"), get("/echo?p2"), get("/wait?p3"))
	ts.answer(t, "p1")
	if _, body := c.read("GET"); body != "waited p1" {
		t.Fatalf("first pipelined answer %q", body)
	}
	if _, body := c.read("GET"); !strings.HasPrefix(body, "GET /echo?p2") {
		t.Fatalf("second pipelined answer %q", body)
	}
	ts.answer(t, "p3")
	if _, body := c.read("GET"); body != "waited p3" {
		t.Fatalf("third pipelined answer %q", body)
	}
	// Pipelined behind the very request net/http read: handed over too.
	c2 := ts.dial(t)
	c2.send(get("/wait?q1"), get("/echo?q2"))
	ts.answer(t, "q1")
	if _, body := c2.read("GET"); body != "waited q1" {
		t.Fatalf("first answer %q", body)
	}
	if _, body := c2.read("GET"); !strings.HasPrefix(body, "GET /echo?q2 HTTP/1.1 h1=true") {
		t.Fatalf("request read past the taken-over one: %q", body)
	}
}

// TestClose: Connection: close and HTTP/1.0 end the connection after
// their answer; a connection that asks for it is not taken over.
func TestClose(t *testing.T) {
	ts := startTestServer(t, 0)
	c := ts.dial(t)
	c.send(get("/wait?", "Connection: close\r\n"))
	if _, body := c.read("GET"); body != "not adopted" {
		t.Fatalf("a Connection: close request was taken over: %q", body)
	}
	for _, req := range []string{get("/echo", "Connection: close\r\n"), "GET /echo HTTP/1.0\r\nHost: x\r\n\r\n"} {
		c := ts.adopt(t)
		c.send(req)
		resp, body := c.read("GET")
		if !resp.Close || !strings.HasPrefix(body, "GET /echo") {
			t.Errorf("%q: close=%v %q", req, resp.Close, body)
		}
		if !c.closed() {
			t.Errorf("%q: the connection stayed open", req)
		}
	}
}

// TestHijackOnTakenConnection: a handler may still hijack.
func TestHijackOnTakenConnection(t *testing.T) {
	ts := startTestServer(t, 0)
	c := ts.adopt(t)
	c.send(get("/hijack"))
	if _, body := c.read("GET"); body != "raw" {
		t.Fatalf("hijacked answer %q", body)
	}
	waitFor(t, "h1 to forget the hijacked connection", func() bool { return ts.h1.Len() == 0 })
}

// TestBadRequests: oversize headers get 431, garbage 400; both close.
func TestBadRequests(t *testing.T) {
	ts := startTestServer(t, 0)
	tests := []struct {
		name, req string
		status    int
	}{
		{name: "oversize headers", req: get("/echo", "X-Big: "+strings.Repeat("b", 10000)+"\r\n"), status: 431},
		{name: "garbage", req: "NOT HTTP\r\n\r\n", status: 400},
		{name: "HTTP/2 preface", req: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505},
	}
	for _, tt := range tests {
		c := ts.adopt(t)
		c.send(tt.req)
		if resp, _ := c.read("GET"); resp.StatusCode != tt.status || !resp.Close {
			t.Errorf("%s: %d close=%v, want %d and close", tt.name, resp.StatusCode, resp.Close, tt.status)
		}
		if !c.closed() {
			t.Errorf("%s: the connection stayed open", tt.name)
		}
	}
}

// TestClientLeaves: a client that goes away while its answer waits ends
// the request's context, and the connection is forgotten.
func TestClientLeaves(t *testing.T) {
	forEachWait(t, testClientLeaves)
}

func testClientLeaves(t *testing.T, ts *testServer) {
	c := ts.adopt(t)
	c.send(get("/wait?gone"))
	<-ts.waiting
	_ = c.c.Close()
	for what, ch := range map[string]chan struct{}{"the handler's context did not end": ts.left, "OnGone's function did not run": ts.gone} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal(what + " when the client left")
		}
	}
	waitFor(t, "h1 to forget the connection", func() bool { return ts.h1.Len() == 0 })
}

// TestIdleTimeout: a kept connection idle past http.Server.IdleTimeout
// is closed.
func TestIdleTimeout(t *testing.T) {
	ts := startTestServer(t, 300*time.Millisecond)
	c := ts.adopt(t)
	if !c.closed() {
		t.Fatal("an idle connection stayed open past the idle timeout")
	}
	waitFor(t, "h1 to forget the connection", func() bool { return ts.h1.Len() == 0 })
}

// TestIdleTimeoutAfterQuickFinish: a detached answer finished before its
// handler returned still leaves the connection to the idle timeout (the
// wait that followed used to clear the deadline Finish had set).
func TestIdleTimeoutAfterQuickFinish(t *testing.T) {
	ts := startTestServer(t, 300*time.Millisecond)
	c := ts.adopt(t)
	c.send(get("/quick"))
	if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "quick" {
		t.Fatalf("quick: %d %q", resp.StatusCode, body)
	}
	if !c.closed() {
		t.Fatal("an idle connection stayed open past the idle timeout")
	}
}

// TestShutdown: idle connections close at once; a waiting answer still
// goes out, with Connection: close, then its connection closes; nothing
// more is taken over.
func TestShutdown(t *testing.T) {
	ts := startTestServer(t, 0)
	idle := ts.adopt(t)
	busy := ts.adopt(t)
	busy.send(get("/wait?last"))
	q := <-ts.waiting
	ts.h1.Shutdown()
	if !idle.closed() {
		t.Fatal("an idle connection stayed open at shutdown")
	}
	ts.waiting <- q
	ts.answer(t, "last")
	if resp, body := busy.read("GET"); body != "waited last" || !resp.Close {
		t.Fatalf("answer at shutdown: %q close=%v, want it with Connection: close", body, resp.Close)
	}
	if !busy.closed() {
		t.Fatal("the connection stayed open after its answer at shutdown")
	}
	c := ts.dial(t)
	c.send(get("/wait"))
	if _, body := c.read("GET"); body != "not adopted" {
		t.Fatalf("a connection was taken over after shutdown: %q", body)
	}
}

// TestSlowClient: a client that does not read its answers does not hold
// up the server beyond the write timeout: the connection is dropped.
func TestSlowClient(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the write timeout")
	}
	ts := startTestServer(t, 0)
	c := ts.adopt(t)
	// Many requests for big answers, none read: the socket buffers fill.
	big := get("/echo?" + strings.Repeat("x", 3000))
	go func() {
		for range 20000 {
			if _, err := io.WriteString(c.c, big); err != nil {
				return
			}
		}
	}()
	waitFor(t, "the stuck connection to be dropped", func() bool { return ts.h1.Len() == 0 })
}

// TestParkedHoldsNoGoroutine: connections whose answers wait, adopted or
// already h1's, hold no goroutine until the answer; then each is served
// again.
func TestParkedHoldsNoGoroutine(t *testing.T) {
	ts := startTestServer(t, 0)
	const n = 12 // fewer than ts.waiting holds
	clients := make([]*client, n)
	for i := range clients {
		clients[i] = ts.adopt(t)
	}
	waitFor(t, "adopted connections to go idle", func() bool { return ts.h1.Len() == n })
	before := runtime.NumGoroutine()
	for i, c := range clients {
		c.send(get("/wait?" + fmt.Sprint(i)))
	}
	waitFor(t, "every request to wait", func() bool { return len(ts.waiting) == n })
	// Idle, each connection had a goroutine reading; waiting, the test's
	// handler has one per request, and the connection none of its own.
	if now := runtime.NumGoroutine(); now > before+n/2 {
		t.Fatalf("%d goroutines with %d answers waiting, %d with the connections idle: waiting connections hold goroutines", now, n, before)
	}
	for range n {
		<-ts.waiting
		ts.release <- struct{}{}
	}
	for i, c := range clients {
		if _, body := c.read("GET"); body != "waited "+fmt.Sprint(i) {
			t.Fatalf("answer %d: %q", i, body)
		}
		c.send(get("/echo?again"))
		if _, body := c.read("GET"); !strings.HasPrefix(body, "GET /echo?again") {
			t.Fatalf("after the answer, connection %d: %q", i, body)
		}
	}
}
