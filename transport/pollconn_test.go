package transport

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/requestid"
)

// rawPoller polls over one kept-alive HTTP/1.1 connection.
type rawPoller struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (p *rawPoller) send(path string) {
	p.t.Helper()
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nOrigin: https://app.example\r\n\r\n"
	if _, err := io.WriteString(p.c, req); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPoller) read() (*http.Response, pollReply) {
	p.t.Helper()
	_ = p.c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		p.t.Fatalf("read answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	var r pollReply
	if err := json.Unmarshal(b, &r); err != nil {
		p.t.Fatalf("decode %q: %v", b, err)
	}
	return resp, r
}

// TestPollKeepAliveConnection: a poller's connection, taken over once a
// poll waits, answers every later request as net/http did: the same
// headers (CORS, request id, caching), the same errors, and at shutdown
// the `disconnect` and the connection's end.
func TestPollKeepAliveConnection(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(_ *Options, p *structure.Project) { p.AllowedOrigins = []string{"https://app.example"} })
	srv := httptest.NewServer(requestid.Middleware(s.handler))
	t.Cleanup(srv.Close)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	p := &rawPoller{t: t, c: c, br: bufio.NewReader(c)}
	base := "/connection/p/poll?" + q("token", s.token("u"), "channel", "small:x")

	// Answered at once by net/http: the reference.
	p.send(base)
	ref, first := p.read()
	headers := func(h http.Header) []string {
		var ks []string
		for k := range h {
			if k != "Date" && k != "Content-Length" {
				ks = append(ks, k+": "+h.Get(k))
			}
		}
		slices.Sort(ks)
		return ks
	}
	rid := ref.Header.Get("X-Request-Id")
	ref.Header.Del("X-Request-Id")
	want := headers(ref.Header)
	id := first.ID
	for n := 1; n <= 3; n++ {
		// Waits: the first time the connection is taken over, then it is
		// the taken-over connection that reads and answers it.
		p.send(base + "&timeout=30&since=" + id)
		time.Sleep(50 * time.Millisecond)
		s.publish("small:x", map[string]int{"n": n})
		resp, r := p.read()
		if got := pubsOf(t, r); len(got) != 1 || got[0] != n || resp.StatusCode != 200 || resp.Close {
			t.Fatalf("poll %d: %d close=%v %+v", n, resp.StatusCode, resp.Close, r)
		}
		if got := resp.Header.Get("X-Request-Id"); got == "" || got == rid {
			t.Errorf("poll %d: request id %q, want a new one", n, got)
		}
		resp.Header.Del("X-Request-Id")
		if got := headers(resp.Header); !slices.Equal(got, want) {
			t.Errorf("poll %d headers\n%v\nwant\n%v", n, got, want)
		}
		id = r.ID
		if s.node.h1.Len() != 1 {
			t.Fatalf("poll %d: %d connections taken over, want 1", n, s.node.h1.Len())
		}
	}
	// An error answers as net/http would.
	p.send(base + "&timeout=x")
	resp, r := p.read()
	if resp.StatusCode != 400 || r.Error == nil || r.Error.Code != 107 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("bad timeout: %d %+v %v", resp.StatusCode, r, resp.Header)
	}
	// Shutdown while a poll waits: it gets `disconnect` 3001, then the
	// connection ends.
	p.send(base + "&timeout=30&since=" + id)
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.node.Shutdown(ctx, pubsubShutdown()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	resp, r = p.read()
	if len(r.Events) != 1 || r.Events[0].Event != "disconnect" || !strings.Contains(string(r.Events[0].Data), "3001") || !resp.Close {
		t.Fatalf("poll at shutdown: close=%v %+v", resp.Close, r)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.br.ReadByte(); err != io.EOF {
		t.Fatalf("after the shutdown answer: %v, want EOF", err)
	}
}
