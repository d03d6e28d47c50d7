package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startServed starts the test server's handler on a listener of its own
// served by h1.Serve from the first request, but for connections whose
// first request's target holds "other" (net/http's); Serve's result goes
// to the returned channel.
func startServed(t *testing.T, configure func(*http.Server)) (*testServer, chan error) {
	t.Helper()
	ts := startTestServer(t, 0, configure)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	mine := func(_, target string) bool { return !strings.Contains(target, "other") }
	go func() { served <- ts.h1.Serve(ln, ts.srv.Config, mine) }()
	ts.addr = ln.Addr().String()
	t.Cleanup(ts.h1.Close)
	return ts, served
}

// TestServe: a connection accepted by Serve is h1's from its first
// request: every kind of request on one connection, answered in order.
func TestServe(t *testing.T) {
	ts, _ := startServed(t, func(*http.Server) {})
	c := ts.dial(t)
	testKeptRequests(t, ts, c)
	c.send(get("/echo?p1"), get("/wait?p2"), get("/echo?p3"))
	ts.answer(t, "p2")
	for _, want := range []string{"GET /echo?p1 ", "waited p2", "GET /echo?p3 "} {
		if _, body := c.read("GET"); !strings.HasPrefix(body, want) {
			t.Fatalf("pipelined: %q, want %q", body, want)
		}
	}
	c.send(get("/hijack"))
	if _, body := c.read("GET"); body != "raw" {
		t.Fatalf("hijacked answer %q", body)
	}
	waitFor(t, "h1 to forget the hijacked connection", func() bool { return ts.h1.Len() == 0 })
}

// TestServeHandsOff: a connection whose first request Serve's mine
// refuses is net/http's from that request on, with every byte read of it
// (the rest of the head, a body, a pipelined request); one whose first
// line cannot be read too, and net/http answers it.
func TestServeHandsOff(t *testing.T) {
	ts, _ := startServed(t, func(*http.Server) {})
	tests := []struct {
		name   string
		send   []string
		method string
		want   []string
	}{
		{
			name:   "mine",
			send:   []string{get("/echo?a"), get("/echo?other")},
			method: "GET",
			want:   []string{`GET /echo?a HTTP/1.1 h1=true`, `GET /echo?other HTTP/1.1 h1=true`},
		},
		{
			name:   "net/http's, body and pipelined request read ahead",
			send:   []string{"POST /echo?other HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + get("/echo?b")},
			method: "POST",
			want:   []string{`POST /echo?other HTTP/1.1 h1=false body="hello"`, `GET /echo?b HTTP/1.1 h1=false`},
		},
		{
			name:   "net/http's, head in pieces",
			send:   []string{"GET /echo?oth", "er HTTP/1.1\r\nHo", "st: x\r\n\r\n"},
			method: "GET",
			want:   []string{`GET /echo?other HTTP/1.1 h1=false`},
		},
		{
			name:   "no request line",
			send:   []string{"NONSENSE\r\n\r\n"},
			method: "GET",
			want:   []string{"400 Bad Request"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial(t)
			for _, part := range tt.send {
				c.send(part)
				time.Sleep(20 * time.Millisecond) // each part its own read
			}
			for i, want := range tt.want {
				method := tt.method
				if i > 0 {
					method = "GET"
				}
				resp, body := c.read(method)
				got := body
				if resp.StatusCode != http.StatusOK {
					got = resp.Status
				}
				if !strings.HasPrefix(got, want) {
					t.Fatalf("answer %d: %q, want %q…", i, got, want)
				}
			}
		})
	}
}

// TestServeBadRequests: what net/http's server refuses, Serve refuses
// too, and closes the connection; a panicking handler closes its
// connection and the server goes on.
func TestServeBadRequests(t *testing.T) {
	ts, _ := startServed(t, func(*http.Server) {})
	tests := []struct {
		name, req string
		status    int // 0: closed without an answer
	}{
		{name: "no Host", req: "GET /echo HTTP/1.1\r\n\r\n", status: 400},
		{name: "two Hosts", req: "GET /echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400},
		{name: "malformed Host", req: "GET /echo HTTP/1.1\r\nHost: a b/c\r\n\r\n", status: 400},
		{name: "oversize headers", req: get("/echo", "X-Big: "+strings.Repeat("b", 10000)+"\r\n"), status: 431},
		{name: "garbage", req: "NOT HTTP\r\n\r\n", status: 400},
		{name: "HTTP/2", req: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505},
		{name: "handler panic", req: get("/panic")},
	}
	for _, tt := range tests {
		c := ts.dial(t)
		c.send(tt.req)
		if tt.status != 0 {
			if resp, _ := c.read("GET"); resp.StatusCode != tt.status || !resp.Close {
				t.Errorf("%s: %d close=%v, want %d and close", tt.name, resp.StatusCode, resp.Close, tt.status)
			}
		}
		if !c.closed() {
			t.Errorf("%s: the connection stayed open", tt.name)
		}
	}
	c := ts.dial(t)
	c.send(get("/echo"), "GET /echo HTTP/1.0\r\n\r\n")
	if _, body := c.read("GET"); body != `GET /echo HTTP/1.1 h1=true body="" x=` {
		t.Fatalf("after the bad requests: %q (the Host header stays out of r.Header)", body)
	}
	if resp, body := c.read("GET"); !strings.HasPrefix(body, "GET /echo HTTP/1.0") || !resp.Close {
		t.Fatalf("HTTP/1.0 without Host: %q close=%v", body, resp.Close)
	}
}

// TestServeTimeouts: a new connection gets ReadHeaderTimeout for its
// first request, a kept one IdleTimeout between requests.
func TestServeTimeouts(t *testing.T) {
	const short, long = 300 * time.Millisecond, time.Minute
	tests := []struct {
		name         string
		header, idle time.Duration
		first        bool // send a first request, then wait
	}{
		{name: "silent new connection", header: short, idle: long},
		{name: "idle kept connection", header: long, idle: short, first: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, _ := startServed(t, func(srv *http.Server) { srv.ReadHeaderTimeout, srv.IdleTimeout = tt.header, tt.idle })
			c := ts.dial(t)
			if tt.first {
				c.send(get("/echo"))
				c.read("GET")
			}
			start := time.Now()
			if !c.closed() {
				t.Fatal("the connection stayed open")
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("closed after %v", d)
			}
		})
	}
}

// TestServeShutdown: Shutdown stops accepting (Serve returns
// ErrServerClosed) and closes idle connections; Drain waits for a busy
// one's answer, or closes it when its context ends first.
func TestServeShutdown(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer bool
	}{{"answered", true}, {"drain times out", false}} {
		t.Run(tt.name, func(t *testing.T) {
			ts, served := startServed(t, func(*http.Server) {})
			idle := ts.dial(t)
			idle.send(get("/echo"))
			idle.read("GET")
			busy := ts.dial(t)
			busy.send(get("/wait?last"))
			q := <-ts.waiting
			ts.h1.Shutdown()
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Fatalf("Serve returned %v", err)
			}
			if c, err := net.Dial("tcp", ts.addr); err == nil {
				_ = c.Close()
				t.Fatal("the listener accepts after Shutdown")
			}
			if !idle.closed() {
				t.Fatal("an idle connection stayed open at shutdown")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if !tt.answer {
				cancel()
			}
			defer cancel()
			drained := make(chan error, 1)
			go func() { drained <- ts.h1.Drain(ctx) }()
			if tt.answer {
				ts.waiting <- q
				ts.answer(t, "last")
				if resp, body := busy.read("GET"); body != "waited last" || !resp.Close {
					t.Fatalf("answer at shutdown: %q close=%v", body, resp.Close)
				}
			}
			err := <-drained
			if tt.answer != (err == nil) {
				t.Fatalf("Drain: %v", err)
			}
			if !busy.closed() {
				t.Fatal("the busy connection stayed open after Drain")
			}
		})
	}
}

// TestServeHijackReader: what the client sends after a hijacked request
// reaches the hijacker through the reader Hijack returns, whether it came
// with the request (buffered) or after it.
func TestServeHijackReader(t *testing.T) {
	ts, _ := startServed(t, func(*http.Server) {})
	for _, tt := range []struct {
		name     string
		together bool
	}{{"sent with the request", true}, {"sent after the request", false}} {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial(t)
			if tt.together {
				c.send(get("/hijackecho"), "line one\n")
			} else {
				c.send(get("/hijackecho"))
				time.Sleep(50 * time.Millisecond)
				c.send("line one\n")
			}
			if _, body := c.read("GET"); body != "line one\n" {
				t.Fatalf("hijacker read %q", body)
			}
		})
	}
}

// TestAppendHead: a hand-written head is what http.ReadResponse reads
// back, a line break in a value never splits a field.
func TestAppendHead(t *testing.T) {
	tests := []struct {
		name   string
		status int
		h      http.Header
		want   http.Header
	}{
		{name: "no fields", status: 204, h: http.Header{}, want: http.Header{}},
		{name: "SSE head", status: 200,
			h:    http.Header{"Content-Type": {"text/event-stream"}, "Vary": {"Origin", "Accept"}, "Connection": {"close"}},
			want: http.Header{"Content-Type": {"text/event-stream"}, "Vary": {"Origin", "Accept"}, "Connection": {"close"}}},
		{name: "line break in a value", status: 200,
			h:    http.Header{"X-A": {" one\r\nX-Injected: yes "}},
			want: http.Header{"X-A": {"one X-Injected: yes"}}},
	}
	for _, tt := range tests {
		head := AppendHead([]byte("prefix"), tt.status, tt.h)
		if !strings.HasPrefix(string(head), "prefixHTTP/1.1 ") {
			t.Fatalf("%s: %q", tt.name, head)
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(head[len("prefix"):]))), nil)
		if err != nil {
			t.Fatalf("%s: %v in %q", tt.name, err, head)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d", tt.name, resp.StatusCode)
		}
		resp.Header.Del("Connection") // ReadResponse keeps it; compare the rest
		want := tt.want.Clone()
		want.Del("Connection")
		if fmt.Sprint(resp.Header) != fmt.Sprint(want) {
			t.Errorf("%s: fields %v, want %v", tt.name, resp.Header, want)
		}
	}
}
