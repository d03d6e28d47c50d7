package h1

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/transport/hangup"
)

// Response is the http.ResponseWriter of a request served by a taken-over
// connection. Its body is gathered and written with the head in one
// write when the handler returns (or, detached, finishes), unless the
// handler flushes: the response is chunked from then on.
type Response struct {
	c      *conn
	req    *http.Request
	cancel func()

	header      http.Header
	status      int
	wroteHeader bool
	// buf gathers the body until the answer goes out; pooled holds it
	// for bufPool meanwhile.
	buf        []byte
	pooled     *[]byte
	streaming  bool
	hijacked   bool
	closeAfter bool
	// ownDeadline: the handler set a write deadline, which the end of the
	// response replaces and clears, as always.
	ownDeadline bool

	// Detached responses only: done is closed once Finish has written
	// it, ok says whether that write went out.
	detached bool
	once     sync.Once
	done     chan struct{}
	ok       bool
	// parked: no goroutine waits on the connection (conn.park); Finish
	// starts the next one. Guarded by c.awaitMu.
	parked *hangup.Watch
	// onGone is OnGone's function until it runs or Finish; gone: the
	// client has left.
	onGone atomic.Pointer[func()]
	gone   atomic.Bool
}

var (
	_ http.ResponseWriter = (*Response)(nil)
	_ http.Flusher        = (*Response)(nil)
	_ http.Hijacker       = (*Response)(nil)
)

func (c *conn) newResponse(req *http.Request, cancel func()) *Response {
	// HTTP/1.0 gets no chunked body and no keep-alive.
	return &Response{c: c, req: req, cancel: cancel, header: http.Header{}, closeAfter: req.Close || req.ProtoMinor == 0}
}

// Header implements http.ResponseWriter.
func (rw *Response) Header() http.Header { return rw.header }

// WriteHeader implements http.ResponseWriter.
func (rw *Response) WriteHeader(status int) {
	if rw.wroteHeader || rw.hijacked {
		return
	}
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		// An informational answer goes out at once; the real one follows.
		_, _ = rw.c.nc.Write(rw.head(nil, status, false, -1))
		return
	}
	rw.wroteHeader, rw.status = true, status
}

// Write implements http.ResponseWriter.
func (rw *Response) Write(p []byte) (int, error) {
	if rw.hijacked {
		return 0, http.ErrHijacked
	}
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(rw.status) || (rw.streaming && rw.req.Method == http.MethodHead) {
		return len(p), nil
	}
	if !rw.streaming {
		if rw.pooled == nil {
			rw.pooled = getBuf()
			rw.buf = *rw.pooled
		}
		rw.buf = append(rw.buf, p...)
		return len(p), nil
	}
	if rw.req.ProtoMinor == 0 {
		// HTTP/1.0: the body ends with the connection, unframed.
		return rw.c.nc.Write(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	chunk := strconv.AppendInt(make([]byte, 0, len(p)+16), int64(len(p)), 16)
	chunk = append(chunk, '\r', '\n')
	chunk = append(chunk, p...)
	chunk = append(chunk, '\r', '\n')
	if _, err := rw.c.nc.Write(chunk); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush implements http.Flusher: the head and what was written go out,
// and the rest of the body follows chunk by chunk.
func (rw *Response) Flush() { _ = rw.FlushError() }

// FlushError is Flush reporting a write error (http.ResponseController).
func (rw *Response) FlushError() error {
	if rw.hijacked {
		return http.ErrHijacked
	}
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.streaming {
		return nil
	}
	rw.streaming = true
	body := rw.buf
	defer rw.release(body)
	rw.buf = nil
	if _, err := rw.c.nc.Write(rw.head(nil, rw.status, true, -1)); err != nil {
		return err
	}
	if len(body) > 0 {
		_, err := rw.Write(body)
		return err
	}
	return nil
}

// SetWriteDeadline serves http.ResponseController.
func (rw *Response) SetWriteDeadline(t time.Time) error {
	rw.ownDeadline = true
	return rw.c.nc.SetWriteDeadline(t)
}

// SetReadDeadline serves http.ResponseController.
func (rw *Response) SetReadDeadline(t time.Time) error { return rw.c.nc.SetReadDeadline(t) }

// hijackBuf sizes the buffers Hijack returns when nothing is buffered;
// bufio reads and writes larger pieces straight through.
const hijackBuf = 128

// Hijack implements http.Hijacker: the connection is the caller's, with
// what was read past the request.
func (rw *Response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if rw.hijacked || rw.detached {
		return nil, nil, errors.New("h1: response hijacked or detached")
	}
	rw.hijacked = true
	_ = rw.c.nc.SetDeadline(time.Time{})
	br := rw.c.br
	if br.Buffered() == 0 && (rw.req.Body == nil || rw.req.Body == http.NoBody) {
		// Nothing read ahead that the caller needs: the 1 KiB buffer goes
		// back to the pool, the caller gets a small one.
		br = bufio.NewReaderSize(rw.c.lr, hijackBuf)
		rw.c.releaseReader()
	}
	// Small write buffers too: the hijackers here write to the
	// connection itself, and 4 KiB per hijacked stream would be garbage.
	return rw.c.nc, bufio.NewReadWriter(br, bufio.NewWriterSize(rw.c.nc, hijackBuf)), nil
}

// Detach lets the handler return before the response is complete: it
// calls Finish, from any goroutine, once it has written everything. The
// request's context ends when the client leaves meanwhile. It reports
// false, and nothing changes, for a request with a body (the connection
// reads it) or a response already flushed or hijacked.
func (rw *Response) Detach() bool {
	if rw.streaming || rw.hijacked || rw.detached ||
		(rw.req.Body != nil && rw.req.Body != http.NoBody && (rw.req.ContentLength != 0 || len(rw.req.TransferEncoding) > 0)) {
		return false
	}
	rw.detached = true
	rw.done = make(chan struct{})
	return true
}

// Detach detaches the response of a handler that will answer later: its
// own when s serves r's connection already, or, with adopt, that of r's
// HTTP/1.1 connection, which s takes over (Adopt). ok is false, with
// nothing changed, when neither can be; the handler answers as usual.
func (s *Server) Detach(w http.ResponseWriter, r *http.Request, adopt bool) (ctx context.Context, rw *Response, ok bool) {
	if rw := Of(w); rw != nil {
		return r.Context(), rw, rw.Detach()
	}
	if !adopt {
		return nil, nil, false
	}
	return s.Adopt(w, r)
}

// Of returns the Response under w, unwrapping middleware that wraps it
// (http.ResponseController's Unwrap convention); nil when w is not one.
func Of(w http.ResponseWriter) *Response {
	for {
		switch v := w.(type) {
		case *Response:
			return v
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return nil
		}
	}
}

// OnGone has f called once, on a goroutine of its own, when the client
// of a detached response leaves before Finish (the request's context
// ends then too), or at once when it has left already. A waiting handler
// is spared a context.AfterFunc, whose registration gives the request's
// context a map and a channel for as long as the wait lasts.
func (rw *Response) OnGone(f func()) {
	rw.onGone.Store(&f)
	if rw.gone.Load() && rw.onGone.CompareAndSwap(&f, nil) {
		go f()
	}
}

// clientGone ends the request's context when its client has left, and
// starts OnGone's function (not on the hangup watcher's goroutine, which
// serves every connection: f may write an answer). The function is taken
// before the context ends: a handler that sees the context end may
// Finish at once, which drops it.
func (rw *Response) clientGone() {
	rw.gone.Store(true)
	f := rw.onGone.Swap(nil)
	rw.cancel()
	if f != nil {
		go (*f)()
	}
}

// Finish completes a detached response. Only the first call counts.
func (rw *Response) Finish() {
	rw.once.Do(func() {
		rw.onGone.Store(nil)
		rw.ok = rw.finish()
		rw.c.awaitMu.Lock()
		defer rw.c.awaitMu.Unlock()
		if rw.parked != nil {
			rw.parked.Stop()
			close(rw.done)
			rw.c.resume(rw.ok && !rw.closeAfter)
			return
		}
		if !rw.ok || rw.closeAfter {
			// Wake the connection's reader, which closes it.
			_ = rw.c.nc.SetReadDeadline(time.Now())
		} else {
			// Idle from now on: the connection's reader is waiting already.
			_ = rw.c.nc.SetReadDeadline(time.Now().Add(rw.c.idleTimeout))
			if !rw.c.setIdle(true) {
				// The server began shutting down during the write.
				_ = rw.c.nc.Close()
			}
		}
		close(rw.done)
	})
}

// finish writes what is not written yet and reports whether it went out.
func (rw *Response) finish() bool {
	defer rw.cancel()
	if rw.hijacked {
		return false
	}
	if rw.c.shuttingDown() {
		rw.closeAfter = true
	}
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	var err error
	if rw.streaming {
		if rw.req.ProtoMinor != 0 {
			err = rw.write([]byte("0\r\n\r\n"))
		}
	} else {
		// Head and body in one write, from a pooled buffer.
		out := getBuf()
		*out = rw.head(*out, rw.status, false, len(rw.buf))
		if rw.req.Method != http.MethodHead {
			*out = append(*out, rw.buf...)
		}
		err = rw.write(*out)
		putBuf(out)
		rw.release(rw.buf)
		rw.buf = nil
	}
	if err != nil {
		return false
	}
	// A body the handler did not read is read past, up to a point.
	if b := rw.req.Body; b != nil && b != http.NoBody {
		n, err := copyDiscard(b)
		if err == nil && n >= maxDiscard {
			return false
		}
	}
	return true
}

// write writes b, the end of the response, under the write timeout. What
// the socket takes at once is written with no deadline (setting and
// clearing one is two timer changes an answer, and that write cannot
// block); whatever it does not take, under the deadline.
func (rw *Response) write(b []byte) error {
	c := rw.c
	if !c.rawTried {
		c.raw, c.rawTried = newRawWriter(c.nc), true
	}
	if c.raw != nil && !rw.ownDeadline {
		n, err := c.raw.writeNow(b)
		if err != nil || n == len(b) {
			return err
		}
		b = b[n:]
	}
	_ = rw.c.nc.SetWriteDeadline(time.Now().Add(rw.c.s.writeTimeout))
	_, err := rw.c.nc.Write(b)
	_ = rw.c.nc.SetWriteDeadline(time.Time{})
	return err
}

// head appends the status line and the headers to out; bodyLen -1 means
// none known (chunked when chunked is set).
func (rw *Response) head(out []byte, status int, chunked bool, bodyLen int) []byte {
	h := rw.header
	if status >= 200 && (rw.closeAfter || strings.EqualFold(h.Get("Connection"), "close")) {
		rw.closeAfter = true
		h.Set("Connection", "close")
	}
	if status >= 200 && bodyAllowed(status) {
		if h.Get("Content-Type") == "" && h.Get("Content-Encoding") == "" && len(rw.buf) > 0 {
			h.Set("Content-Type", http.DetectContentType(rw.buf))
		}
		switch {
		case h.Get("Content-Length") != "":
		case chunked && rw.req.ProtoMinor == 0:
		case chunked:
			h.Set("Transfer-Encoding", "chunked")
		case bodyLen >= 0:
			h.Set("Content-Length", strconv.Itoa(bodyLen))
		}
	}
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, ' ')
	out = append(out, http.StatusText(status)...)
	out = append(out, '\r', '\n')
	if _, ok := h["Date"]; !ok {
		out = append(out, "Date: "...)
		out = append(out, httpDate()...)
		out = append(out, '\r', '\n')
	}
	return append(appendFields(out, h), '\r', '\n')
}

// release gives buf, the body gathered in rw.pooled, back to bufPool.
func (rw *Response) release(buf []byte) {
	if rw.pooled != nil {
		*rw.pooled = buf
		putBuf(rw.pooled)
		rw.pooled = nil
	}
}

// bufPool holds the buffers answers are gathered and written from: most
// answers (a poll's) are a few hundred bytes, written at once, then
// garbage the collector would have to find. It holds *[]byte, so that
// putting one back allocates nothing.
var bufPool sync.Pool

// maxPooledBuf bounds the buffers bufPool keeps.
const maxPooledBuf = 64 << 10

func getBuf() *[]byte {
	if p, ok := bufPool.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, 1024)
	return &b
}

func putBuf(p *[]byte) {
	if cap(*p) > maxPooledBuf {
		return
	}
	*p = (*p)[:0]
	bufPool.Put(p)
}

// date caches the Date header's value for the current second.
var date struct {
	sync.Mutex
	sec int64
	s   string
}

func httpDate() string {
	now := time.Now()
	date.Lock()
	defer date.Unlock()
	if now.Unix() != date.sec {
		date.sec, date.s = now.Unix(), now.UTC().Format(http.TimeFormat)
	}
	return date.s
}

// bodyAllowed reports whether a response with status may have a body
// (RFC 9112 §6.3).
func bodyAllowed(status int) bool {
	return !(status >= 100 && status < 200) && status != http.StatusNoContent && status != http.StatusNotModified
}
