package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
	"github.com/rotor-rt/rotor/transport/h1"
	"github.com/rotor-rt/rotor/transport/requestid"
)

// BenchmarkPublishAPIPath measures a publication from the server API's
// point of view without HTTP: resolve the channel, publish on the memory
// engine, fan out to 100 local subscribers.
func BenchmarkPublishAPIPath(b *testing.B) {
	n, proj, ctx := benchServer(b)
	streams := make([]*pubsub.Stream, 100)
	for i := range streams {
		streams[i], _ = n.Hub().Open(ctx, pubsub.StreamOptions{Project: "p", Client: itoa(i)}, []string{"p|news"})
	}
	data := []byte(`{"seq":1,"text":"hello"}`)
	var buf []pubsub.Queued
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, perr := node.Resolve(proj, "news")
		if perr != nil {
			b.Fatal(perr)
		}
		if _, perr := n.Node().Publish(ctx, c, data, nil); perr != nil {
			b.Fatal(perr)
		}
		for _, s := range streams {
			buf, _, _ = s.Take(buf)
		}
	}
}

// BenchmarkAPIPublishHandler runs POST /api/publish through the router
// and the RequestID middleware, without the network: the server-side work
// of one publication besides its system calls.
func BenchmarkAPIPublishHandler(b *testing.B) {
	n, _, _ := benchServer(b)
	r := chi.NewRouter()
	r.Use(requestid.Middleware)
	n.Routes(r)
	body := []byte(`{"channel":"news","data":{"seq":1,"ts":1767225600000000000,"pad":"0123456789012345678901234567890123456789012345678901234"}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/api/publish", bytes.NewReader(body))
		req.Header.Set("Authorization", "apikey p-api-key")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkPollHandler runs a long poll that resumes with nothing new
// (timeout=0, since = the last answer's id) through the router, without
// the network: the server-side work of one poll of a subscriber that keeps
// polling, besides its system calls.
func BenchmarkPollHandler(b *testing.B) {
	s := startServer(b)
	base := "/connection/p/poll?" + q("token", s.token("u"), "channel", "small:x")
	first := httptest.NewRecorder()
	s.handler.ServeHTTP(first, httptest.NewRequest(http.MethodGet, base, nil))
	var r pollReply
	if err := json.Unmarshal(first.Body.Bytes(), &r); err != nil || first.Code != 200 {
		b.Fatalf("first poll: %d %s", first.Code, first.Body)
	}
	url := base + "&timeout=0&since=" + r.ID
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		s.handler.ServeHTTP(w, httptest.NewRequest(http.MethodGet, url, nil))
		if w.Code != 200 {
			b.Fatalf("poll: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkSSEAccept opens an SSE stream over real loopback HTTP/1.1 the
// way the W1 workload does (a token of its own per subscriber, one
// channel), reads the opening events and closes: the accept path from
// the request to the hijacked stream's first write, and its teardown.
// The client's cost is in the figures too; compare with and without
// GrowStacks, and net/http's server with transport/h1's (h1.Serve, as
// rotor serve runs plain HTTP/1.1).
func BenchmarkSSEAccept(b *testing.B) {
	for _, bc := range []struct {
		name string
		grow bool
		h1   bool
	}{{"GrowStacks", true, false}, {"no GrowStacks", false, false}, {"h1.Serve", true, true}} {
		b.Run(bc.name, func(b *testing.B) {
			n, _, _ := benchServer(b)
			r := chi.NewRouter()
			if bc.grow {
				r.Use(n.GrowStacks)
			}
			r.Use(requestid.Middleware)
			n.Routes(r)
			var addr string
			if bc.h1 {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				hs := h1.New(slog.Default(), 10*time.Second)
				go func() { _ = hs.Serve(ln, &http.Server{Handler: r}, func(string, string) bool { return true }) }()
				defer hs.Close()
				addr = ln.Addr().String()
			} else {
				srv := httptest.NewServer(r)
				defer srv.Close()
				addr = srv.Listener.Addr().String()
			}
			reqs := sseRequests(b, b.N)
			buf := make([]byte, 4096)
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPU(b)
			defer func() { b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op") }()
			for i := 0; i < b.N; i++ {
				_ = dialSSE(b, addr, reqs[i], buf).Close()
			}
		})
	}
}

// sseRequests are n SSE requests as W1 sends them: a token of its own per
// subscriber, one channel each.
func sseRequests(b *testing.B, n int) [][]byte {
	reqs := make([][]byte, n)
	for i, target := range sseTargets(b, n) {
		reqs[i] = []byte("GET " + target + " HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
	}
	return reqs
}

// sseTargets returns n SSE request targets, each with a token of its own
// user and a channel of its own.
func sseTargets(b *testing.B, n int) []string {
	targets := make([]string, n)
	for i := range targets {
		tok, err := auth.MintConnectionToken([]byte(testSecret), auth.ConnectionClaims{User: "u" + itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		targets[i] = "/connection/p/sse?token=" + tok + "&channel=c" + itoa(i)
	}
	return targets
}

// dialSSE opens a stream on a connection of its own to addr with the raw
// request req and reads its opening into buf.
func dialSSE(tb testing.TB, addr string, req, buf []byte) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Write(req); err != nil {
		tb.Fatal(err)
	}
	readOpening(tb, c, buf)
	return c
}

// readOpening reads a stream's head and opening events from c into buf.
func readOpening(tb testing.TB, c io.Reader, buf []byte) {
	got := 0
	for !bytes.Contains(buf[:got], []byte("event: sub\n")) || !bytes.HasSuffix(buf[:got], []byte("\n\n")) {
		k, err := c.Read(buf[got:])
		if err != nil {
			tb.Fatalf("after %q: %v", buf[:got], err)
		}
		got += k
	}
}

// BenchmarkSSEIdleHeap opens b.N SSE streams over real loopback HTTP/1.1
// the way W1 does, keeps them all open and idle, and reports the live heap
// and goroutine stacks per stream after a GC: what an idle stream holds. The client's side of
// each connection (a net.Conn) is in the figure too; compare runs, not
// the figure with a server's RSS. Run it with -benchtime=5000x.
func BenchmarkSSEIdleHeap(b *testing.B) {
	n, _, _ := benchServer(b)
	r := chi.NewRouter()
	r.Use(n.GrowStacks, requestid.Middleware)
	n.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	reqs := sseRequests(b, b.N)
	buf := make([]byte, 4096)
	measureIdle(b, func(i int) io.Closer { return dialSSE(b, addr, reqs[i], buf) })
}

// BenchmarkSSEIdleH2C is BenchmarkSSEIdleHeap over h2c: b.N idle streams
// from Go's HTTP/2 client, on as many connections as the server's
// stream limit asks. An HTTP/2 stream cannot be hijacked: its handler
// goroutine waits as long as it is open. Go's client holds a goroutine
// per open stream too (goroutines/stream is 2), so the stack and heap
// figures have the client's side in them; the server's own is in
// docs/benchmarks.md. Run it with -benchtime=5000x.
func BenchmarkSSEIdleH2C(b *testing.B) {
	n, _, _ := benchServer(b)
	r := chi.NewRouter()
	r.Use(n.GrowStacks, requestid.Middleware)
	n.Routes(r)
	srv := httptest.NewUnstartedServer(r)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	targets := sseTargets(b, b.N)
	buf := make([]byte, 4096)
	measureIdle(b, func(i int) io.Closer {
		resp, err := client.Get(srv.URL + targets[i])
		if err != nil {
			b.Fatal(err)
		}
		if resp.ProtoMajor != 2 {
			b.Fatalf("stream %d over %s, want HTTP/2", i, resp.Proto)
		}
		readOpening(b, resp.Body, buf)
		return resp.Body
	})
}

// measureIdle opens b.N streams with open, keeps them open, and reports
// the live heap, goroutine stacks and goroutines they added, per stream,
// after a GC.
func measureIdle(b *testing.B, open func(i int) io.Closer) {
	streams := make([]io.Closer, 0, b.N)
	defer func() {
		for _, c := range streams {
			_ = c.Close()
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		streams = append(streams, open(i))
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/float64(b.N), "goroutines/stream")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heap-B/stream")
	b.ReportMetric(float64(int64(after.StackInuse)-int64(before.StackInuse))/float64(b.N), "stack-B/stream")
}

// processCPU is the CPU time the process has used, user and system: the
// figure to compare where wall time is mostly waiting on loopback.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSSEFanOut publishes to one channel with 200 hijacked SSE
// subscribers on loopback, from eight publishers that each wait until
// their publication has reached every subscriber (eight in flight, as
// the W2 workload's closed loop), and reports the process's CPU per
// delivery: the broadcast path from the hub to the write(2), where each
// writer's write carries whatever has queued by the time it runs. The
// readers' cost is in the figure too. Run it with -cpu 1 for the
// one-core case the peer workloads measure.
func BenchmarkSSEFanOut(b *testing.B) {
	const subscribers, inFlight, slots = 200, 8, 64
	n, proj, ctx := benchServer(b)
	r := chi.NewRouter()
	n.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	// A publication's slot counts the subscribers it reached and tells its
	// publisher when that is all of them; a slot is reused only after.
	var reached [slots]struct {
		n    atomic.Int64
		done chan struct{}
	}
	for i := range reached {
		reached[i].done = make(chan struct{}, 1)
	}
	for i := range subscribers {
		tok, err := auth.MintConnectionToken([]byte(testSecret), auth.ConnectionClaims{User: "u" + itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		c, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, "GET /connection/p/sse?token="+tok+"&channel=room HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
			b.Fatal(err)
		}
		br := bufio.NewReaderSize(c, 4096)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if string(line) == "event: sub\n" {
				break
			}
		}
		go func() {
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				i := bytes.Index(line, []byte(`"seq":`))
				if i < 0 {
					continue
				}
				seq := 0
				for _, d := range line[i+6:] {
					if d < '0' || d > '9' {
						break
					}
					seq = seq*10 + int(d-'0')
				}
				if s := &reached[seq%slots]; s.n.Add(1) == subscribers {
					s.done <- struct{}{}
				}
			}
		}()
	}
	ch, perr := node.Resolve(proj, "room")
	if perr != nil {
		b.Fatal(perr)
	}
	const pad = "0123456789012345678901234567890123456789012345678901234567890123456789"
	b.ResetTimer()
	cpu0 := processCPU(b)
	var next atomic.Int64
	var publishers sync.WaitGroup
	for range inFlight {
		publishers.Add(1)
		go func() {
			defer publishers.Done()
			for k := next.Add(1); k <= int64(b.N); k = next.Add(1) {
				s := &reached[k%slots]
				s.n.Store(0)
				data := []byte(`{"seq":` + strconv.FormatInt(k, 10) + `,"pad":"` + pad + `"}`)
				if _, perr := n.Node().Publish(ctx, ch, data, nil); perr != nil {
					b.Error(perr)
					return
				}
				select {
				case <-s.done:
				case <-time.After(time.Minute):
					b.Errorf("publication %d reached %d of %d subscribers in a minute", k, s.n.Load(), subscribers)
					return
				}
			}
		}()
	}
	publishers.Wait()
	b.StopTimer()
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N*subscribers), "cpu-ns/delivery")
}

// benchServer starts a server on the memory engine with project "p" and
// no harness options, stopped when the benchmark ends.
func benchServer(b *testing.B) (*Server, *structure.Project, context.Context) {
	b.Helper()
	p := testProject("p")
	store, err := admin.NewStaticStore([]structure.Project{p})
	if err != nil {
		b.Fatal(err)
	}
	mem := memory.New(memory.Options{})
	n, err := New(Options{Delivery: mem, Broker: mem, Presence: mem, Revoker: mem, Projects: store})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	proj, err := store.Project(ctx, "p")
	if err != nil {
		b.Fatal(err)
	}
	return n, proj, ctx
}
