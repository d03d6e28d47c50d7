package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// streamsPerConn is how many SSE streams share one HTTP/2 connection, as
// the tabs of one browser would.
const streamsPerConn = 50

// TestHTTP2 opens 50 SSE streams on one HTTP/2 connection, over TLS and
// over h2c, publishes, and checks that every stream receives; then a long
// poll over the same connection.
func TestHTTP2(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tls  bool
	}{
		{"tls", true},
		{"h2c", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := serverConfig{H2C: !tc.tls}
			if tc.tls {
				cfg.TLSCert, cfg.TLSKey = writeCert(t, t.TempDir())
			}
			srv := startServer(t, cfg)
			c := newH2Client(t, cfg.TLSCert)
			checkHTTP2(t, c, srv.base)
			checkStreamHeaders(t, c, srv.base)
		})
	}
}

// checkHTTP2 runs the HTTP/2 checks against base (Rotor itself, or a proxy
// in front of it) with a client that counts its dials.
func checkHTTP2(t *testing.T, c *countingClient, base string) {
	t.Helper()
	checkProto(t, c, base, 2)
}

// checkProto opens SSE streams (50 on one connection with HTTP/2, 5 with
// HTTP/1.1, which needs a connection each), publishes through the server
// API and checks every stream receives; then a long poll. Every answer
// must come over HTTP/major.
func checkProto(t *testing.T, c *countingClient, base string, major int) {
	t.Helper()
	nstreams := streamsPerConn
	if major == 1 {
		nstreams = 5
	}
	// One request first, so the connection exists before 50 requests race
	// to use it (a browser also has its page's connection already).
	resp, err := c.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != major {
		t.Fatalf("/healthz over %s, want HTTP/%d", resp.Proto, major)
	}

	// One channel per protocol: the http1 and http2 checks run in parallel
	// against the same server and count offsets.
	channel := fmt.Sprintf("h%d", major)
	streams := make([]*sseStream, nstreams)
	var wg sync.WaitGroup
	errs := make(chan error, nstreams)
	for i := range streams {
		wg.Go(func() {
			s, err := dialSSE(t.Context(), c.Client, streamURL(base, "sse", fmt.Sprintf("u%d", i), t, channel), "")
			if err != nil {
				errs <- err
				return
			}
			streams[i] = s
		})
	}
	wg.Wait()
	close(errs)
	for _, s := range streams {
		if s != nil {
			t.Cleanup(s.close)
		}
	}
	for err := range errs {
		t.Fatal(err)
	}
	for i, s := range streams {
		if s.resp.ProtoMajor != major {
			t.Fatalf("stream %d over %s, want HTTP/%d", i, s.resp.Proto, major)
		}
		if sub := decode[subData](t, s.expect(t, "sub")); sub.Channel != channel {
			t.Fatalf("stream %d: sub for %q", i, sub.Channel)
		}
	}

	off := mustPublish(t, c.Client, base, channel, map[string]string{"text": "to all"})
	for i, s := range streams {
		pub := decode[pubData](t, s.expect(t, "pub"))
		if pub.Offset != off || string(pub.Data) != `{"text":"to all"}` {
			t.Fatalf("stream %d got %+v, want offset %d", i, pub, off)
		}
	}

	// Long poll on the same connection: the first answers at once with
	// the sub event, the second waits for the publication.
	first := poll(t, c.Client, streamURL(base, "poll", "poller", t, channel), major)
	if len(first.Events) != 1 || first.Events[0].Event != "sub" || first.ID == "" {
		t.Fatalf("first poll: %+v", first)
	}
	got := make(chan pollReply, 1)
	failed := make(chan error, 1)
	u := streamURL(base, "poll", "poller", t, channel) + "&" + url.Values{"since": {first.ID}, "timeout": {"20"}}.Encode()
	go func() {
		r, err := pollErr(t.Context(), c.Client, u, major)
		if err != nil {
			failed <- err
			return
		}
		got <- r
	}()
	off = mustPublish(t, c.Client, base, channel, "polled")
	select {
	case r := <-got:
		if len(r.Events) != 1 || r.Events[0].Event != "pub" {
			t.Fatalf("second poll: %+v", r)
		}
		var pub pubData
		if err := json.Unmarshal(r.Events[0].Data, &pub); err != nil || pub.Offset != off || string(pub.Data) != `"polled"` {
			t.Fatalf("second poll pub %s (%v), want offset %d", r.Events[0].Data, err, off)
		}
	case err := <-failed:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("long poll did not answer")
	}

	if n := c.dials.Load(); major == 2 && n != 1 {
		t.Errorf("client dialed %d connections for %d streams, a poll and publishes; want 1", n, nstreams)
	}
}

// checkStreamHeaders checks the headers that keep proxies from buffering
// or caching a stream (docs/protocol.md, SSE). nginx consumes X-Accel-Buffering, so
// this runs against Rotor directly.
func checkStreamHeaders(t *testing.T, c *countingClient, base string) {
	t.Helper()
	s := openSSE(t, c.Client, streamURL(base, "sse", "headers", t, "h2"), "")
	for k, want := range map[string]string{
		"Content-Type":      "text/event-stream",
		"Cache-Control":     "no-cache, no-transform",
		"X-Accel-Buffering": "no",
	} {
		if got := s.resp.Header.Get(k); !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}
