package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/gopool"
	"github.com/rotor-rt/rotor/transport/h1"
	"github.com/rotor-rt/rotor/transport/hangup"
)

// sseRetry is the reconnection delay advised to browsers, in ms.
const sseRetry = 2000

// sseSink writes events as text/event-stream frames into a buffer that
// the stream flushes in one write per wake-up, however many events it
// holds (coalescing).
type sseSink struct {
	buf []byte
}

var _ node.Sink = (*sseSink)(nil)

var (
	sseID    = []byte("id: ")
	sseEvent = []byte("event: ")
	sseData  = []byte("data: ")
	ssePing  = []byte(": ping\n\n")
	sseClock = []byte("event: ping\ndata: {\"time\":")
)

// clockEvery is how often a clock stream carries the server's time while
// events flow: a client sees events a proxy holds back within seconds.
const clockEvery = 500 * time.Millisecond

// nudgeAfter is how long after the opening events a heartbeat follows
// them: some proxies (Varnish with its default VCL) pass a response's
// first body write on only when the next one arrives, and a next write
// that comes with the first, in one read, does not count. One timer per
// opening, none per idle stream.
const nudgeAfter = 100 * time.Millisecond

// ping appends a heartbeat: a comment, or on a clock stream a ping event
// with the server's time in Unix milliseconds, which a client can read
// (EventSource hides comments) to measure how late events arrive.
func (s *sseSink) ping(clock bool, now time.Time) {
	if !clock {
		s.buf = append(s.buf, ssePing...)
		return
	}
	s.buf = append(s.buf, sseClock...)
	s.buf = strconv.AppendInt(s.buf, now.UnixMilli(), 10)
	s.buf = append(s.buf, "}\n\n"...)
}

// Event implements node.Sink.
func (s *sseSink) Event(kind pubsub.EventKind, id []byte, data []byte) {
	if id != nil {
		s.buf = append(s.buf, sseID...)
		s.buf = append(s.buf, id...)
		s.buf = append(s.buf, '\n')
	}
	s.buf = append(s.buf, sseEvent...)
	s.buf = append(s.buf, kind.String()...)
	s.buf = append(s.buf, '\n')
	// Data is compact JSON and holds no newline; split anyway, as the
	// format requires: nothing that reaches the wire can break a frame.
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		s.buf = append(s.buf, sseData...)
		s.buf = append(s.buf, bytes.TrimSuffix(data[:i], []byte{'\r'})...)
		s.buf = append(s.buf, '\n')
		data = data[i+1:]
	}
	s.buf = append(s.buf, sseData...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, '\n', '\n')
}

// lifetimeReason ends a stream at http.stream_lifetime.
var lifetimeReason = &pubsub.Disconnect{Code: pubsub.DisconnectNormal, Reason: "stream lifetime reached", Reconnect: true}

// streamEnd returns when (Unix ns, 0: never) and why the heartbeat ticker
// ends a stream opened at now: its session's expiry or its lifetime (±10 %
// so that streams opened together do not reconnect together), the first.
func streamEnd(exp time.Time, lifetime time.Duration, now time.Time) (int64, *pubsub.Disconnect) {
	var at int64
	var reason *pubsub.Disconnect
	if !exp.IsZero() {
		at, reason = exp.UnixNano(), pubsub.DisconnectExpiredReason
	}
	if lifetime > 0 {
		lifetime += time.Duration((rand.Float64()*0.2 - 0.1) * float64(lifetime))
		if end := now.Add(lifetime).UnixNano(); at == 0 || end < at {
			at, reason = end, lifetimeReason
		}
	}
	return at, reason
}

// handleSSE serves GET /connection/{project}/sse (docs/protocol.md, SSE). An
// HTTP/1.1 stream is hijacked once set up and, idle, holds no goroutine
// (docs/architecture.md); an HTTP/2 stream keeps its handler goroutine.
func (s *Server) handleSSE(w http.ResponseWriter, r *http.Request, p *structure.Project, a access) {
	if sc := setupSSE(s, w, r, p, a); sc != nil {
		sc.serve(w, r)
	}
}

// setupSSE sets a stream up; nil: answered (an error, or hijacked). Not
// inlined: with its frame gone, a waiting HTTP/2 stream's stack halves.
//
//go:noinline
func setupSSE(s *Server, w http.ResponseWriter, r *http.Request, p *structure.Project, a access) *sseConn {
	q := r.URL.Query()
	req, perr := s.streamRequest(r, q, p, a, "sse", q.Get("since"), r.Header.Get("Last-Event-ID"))
	if perr != nil {
		writeError(w, perr)
		return nil
	}
	sc := &sseConn{
		heartbeats: s.heartbeats, writers: s.writers, hangups: s.hangups, ctx: s.baseCtx, writeTimeout: s.opts.WriteTimeout, ping: s.opts.Ping,
		sink: &sseSink{}, clock: q.Get("clock") == "1",
	}
	st, perr := s.node.OpenStream(r.Context(), req, sc.sink)
	if perr != nil {
		if perr.Kind == pubsub.KindEngineDown {
			writeSSEDisconnect(w, pubsub.DisconnectEngineDownReason)
			return nil
		}
		writeError(w, perr)
		return nil
	}
	sc.st = st
	sc.endAt, sc.endReason = streamEnd(st.Expires(), s.opts.StreamLifetime, time.Now())
	head := []byte("retry: " + strconv.Itoa(sseRetry) + "\n\n")
	if s.opts.Padding > 0 {
		head = append(head, ':')
		head = append(head, bytes.Repeat([]byte{' '}, s.opts.Padding)...)
		head = append(head, '\n', '\n')
	}
	sc.sink.buf = append(head, sc.sink.buf...)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	if r.ProtoMajor == 1 && !s.opts.NoHijack && sc.hijack(w) {
		return nil
	}
	return sc
}

// writeSSEDisconnect answers a stream that cannot open with 200, the
// retry advice and one `disconnect` event, then ends it. A browser's
// EventSource gives up for good on any other status; on a 200 that ends
// it reconnects by itself after the retry delay with its Last-Event-ID,
// and resumes once the server can serve it again.
func writeSSEDisconnect(w http.ResponseWriter, reason *pubsub.Disconnect) {
	sink := &sseSink{buf: []byte("retry: " + strconv.Itoa(sseRetry) + "\n\n")}
	data, _ := json.Marshal(reason)
	sink.Event(pubsub.EventDisconnect, nil, data)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(sink.buf)
}

// sseConn is one SSE response: the sink of a node stream, written out in
// the handler goroutine (serve) or, hijacked, by a writer goroutine that
// exists only while there is something to write.
type sseConn struct {
	// What the connection needs of the server, and nothing more: ctx
	// outlives the request (hijacked writers use it) and ends when the
	// server stops.
	heartbeats   *heartbeats
	writers      *gopool.Pool[*sseConn]
	ctx          context.Context
	writeTimeout time.Duration
	ping         time.Duration

	st   *node.Stream
	sink *sseSink
	// clock: the client asked for ping events with the server's time
	// (?clock=1) instead of comment heartbeats.
	clock bool
	// Only the writer touches lastClock (last ping event) and pinged.
	lastClock time.Time
	pinged    bool
	// trailing: queued for a trailing ping (heartbeats.trail).
	trailing atomic.Bool
	// See streamEnd; guarded by heartbeats.mu once registered there.
	endAt     int64
	endReason *pubsub.Disconnect
	// opened: the opening write and its nudge are out (the writer's).
	opened bool

	// wake: set for a stream served in its handler goroutine, nil hijacked.
	wake chan struct{}

	// Hijacked connections only: hangup tells when the client leaves.
	conn      net.Conn
	hangups   *hangup.Watcher
	hangup    *hangup.Watch
	writing   atomic.Bool
	pingDue   atomic.Bool
	lastWrite atomic.Int64
	closed    bool // guarded by writing

	once sync.Once
}

// finish closes the stream and the connection. It runs once, whoever ends
// the stream.
func (sc *sseConn) finish() {
	sc.once.Do(func() {
		sc.st.Close()
		sc.heartbeats.remove(sc)
		if sc.conn != nil {
			sc.hangup.Stop()
			_ = sc.conn.Close()
		}
	})
}

// serve runs the stream in the handler goroutine (HTTP/2, or when the
// connection cannot be hijacked).
func (sc *sseConn) serve(w http.ResponseWriter, r *http.Request) {
	defer sc.finish()
	sink, st := sc.sink, sc.st
	ctx := r.Context()
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	flush := func() bool {
		now := time.Now()
		sc.stampClock(now)
		_ = rc.SetWriteDeadline(now.Add(sc.writeTimeout))
		if len(sink.buf) > 0 {
			if _, err := w.Write(sink.buf); err != nil {
				return false
			}
			sink.buf = sink.buf[:0]
		}
		st.Delivered()
		sc.lastWrite.Store(time.Now().UnixNano())
		return rc.Flush() == nil
	}
	if !flush() {
		return
	}
	sc.opened = true
	// Heartbeats come from the server's one ticker (heartbeats.run), which
	// wakes this loop through sc.wake; no timer per stream.
	sc.wake = make(chan struct{}, 1)
	sc.heartbeats.add(sc)
	sc.nudge()
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.Done():
			st.Fill(ctx)
			flush()
			return
		case <-st.Ready():
			more := st.Fill(ctx)
			if len(sink.buf) > 0 && !flush() {
				return
			}
			if !more {
				return
			}
		case <-sc.wake:
			if !sc.pingDue.Swap(false) {
				continue
			}
			sc.heartbeat(time.Now())
			if !flush() {
				return
			}
		}
	}
}

// hijack takes the HTTP/1.1 connection over and writes the response
// itself: headers, then an event stream delimited by the connection's
// close (RFC 9112 §6.3), so no chunked framing is needed. It reports false
// when the connection cannot be hijacked; nothing was written then.
func (sc *sseConn) hijack(w http.ResponseWriter) bool {
	h := w.Header()
	h.Set("Connection", "close")
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		h.Del("Connection")
		return false
	}
	// net/http may have left read deadlines from its own timeouts.
	_ = conn.SetDeadline(time.Time{})
	sc.conn = conn
	head := h1.AppendHead(make([]byte, 0, 256+len(sc.sink.buf)), http.StatusOK, h)
	sc.sink.buf = append(head, sc.sink.buf...)
	sc.writing.Store(true) // this goroutine is the writer for the first write
	sc.heartbeats.add(sc)
	sc.hangup = sc.hangups.Watch(conn, func() { sc.st.End(pubsub.DisconnectNormalReason) })
	sc.st.SetNotify(sc.schedule)
	sc.writeLoop()
	return true
}

// schedule starts a writer unless one is running. The hub calls it, via
// the stream's notify function, on every delivery: it must not block.
func (sc *sseConn) schedule() {
	if sc.wake != nil {
		// A stream served in its handler goroutine (HTTP/2): wake it.
		select {
		case sc.wake <- struct{}{}:
		default:
		}
		return
	}
	if sc.writing.CompareAndSwap(false, true) {
		sc.writers.Go(sc)
	}
}

// writeLoop writes until nothing is left, then exits: an idle stream has
// no writer goroutine. The caller has set writing.
func (sc *sseConn) writeLoop() {
	for {
		if !sc.writeOnce() {
			sc.closed = true
			sc.finish()
			return
		}
		sc.writing.Store(false)
		if !sc.st.Pending() && !sc.pingDue.Load() {
			return
		}
		if !sc.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// sseIdleWriters is how many stream writer goroutines wait for the next
// write instead of exiting: a fresh goroutine grows its stack by copying
// on the way down to the write, every time.
const sseIdleWriters = 16

// sinkPool recycles write buffers so an idle hijacked stream holds none.
var sinkPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writeOnce drains the stream into one buffer and writes it in one call
// with its own deadline. It reports false when the stream is over.
func (sc *sseConn) writeOnce() bool {
	if sc.closed {
		return false
	}
	sink := sc.sink
	pooled := sinkPool.Get().(*[]byte)
	if len(sink.buf) == 0 {
		sink.buf = (*pooled)[:0]
	} else {
		// The first write: headers and opening events built before.
		sinkPool.Put(pooled)
		pooled = nil
	}
	more := sc.st.Fill(sc.ctx)
	now := time.Now()
	if sc.pingDue.Swap(false) && len(sink.buf) == 0 {
		sc.heartbeat(now)
	}
	sc.stampClock(now)
	ok := true
	if len(sink.buf) > 0 {
		_ = sc.conn.SetWriteDeadline(now.Add(sc.writeTimeout))
		if _, err := sc.conn.Write(sink.buf); err != nil {
			ok = false
		}
		if ok && !sc.opened {
			sc.opened = true
			sc.nudge()
		}
		sc.lastWrite.Store(time.Now().UnixNano())
	}
	sc.st.Delivered()
	if pooled != nil && cap(sink.buf) <= 64<<10 {
		*pooled = sink.buf[:0]
		sinkPool.Put(pooled)
	}
	sink.buf = nil
	return ok && more
}

// heartbeat appends the ping of a quiet stream.
func (sc *sseConn) heartbeat(now time.Time) {
	sc.sink.ping(sc.clock, now)
	if sc.clock {
		sc.lastClock = now
		sc.pinged = true
	}
}

// stampClock appends a ping event with the server's time to a clock
// stream's pending write when the last one is clockEvery old. A write of
// events without one asks the heartbeats for a trailing ping: a client
// that sees an event and then no ping within clockEvery knows the rest is
// held on the way.
func (sc *sseConn) stampClock(now time.Time) {
	pinged := sc.pinged
	sc.pinged = false
	if !sc.clock || len(sc.sink.buf) == 0 || pinged {
		// Nothing to write, or the write ends with a ping already.
		return
	}
	if now.Sub(sc.lastClock) < min(clockEvery, sc.ping) {
		sc.heartbeats.trail(sc)
		return
	}
	sc.heartbeat(now)
	sc.pinged = false
}

// nudge asks for a heartbeat nudgeAfter from now, whatever else the
// stream writes meanwhile. A stream over by then ignores it.
func (sc *sseConn) nudge() {
	time.AfterFunc(nudgeAfter, func() {
		sc.pingDue.Store(true)
		sc.schedule()
	})
}
