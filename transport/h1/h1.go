// Package h1 serves HTTP/1.1 keep-alive connections with the server's
// own handler: those taken over from net/http (Adopt), and those of a
// listener whose first request it is given (Serve), so that a connection
// whose response waits (a long poll) holds a 1 KiB buffer and, parked,
// no goroutine, instead of net/http's two goroutines and 8 KiB of
// buffers, and one that is hijacked (an SSE stream) leaves nothing of
// net/http's per-connection state behind. A handler may Detach its
// response: it returns at once and completes the response later from any
// goroutine. A plain request head (no body, as a poll sends) is parsed in
// place, into the request http.ReadRequest would give; any other is
// parsed by http.ReadRequest. Everything else a handler may use of
// net/http's ResponseWriter (Flush, Hijack, write deadlines) works as
// there.
package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/transport/gopool"
	"github.com/rotor-rt/rotor/transport/hangup"
)

// Defaults where the http.Server that handed a connection over leaves
// its limits at zero.
const (
	DefaultIdleTimeout   = 120 * time.Second
	defaultHeaderTimeout = 10 * time.Second
	readBufSize          = 1024
	// maxDiscard is how much of a body a handler left unread is read
	// past to keep the connection; beyond it the connection closes.
	maxDiscard = 256 << 10
)

// Server serves the connections handed to it. Its zero value is not
// usable: call New.
type Server struct {
	log          *slog.Logger
	writeTimeout time.Duration

	// watcher, when set, lets a connection whose response is detached
	// wait with no goroutine (conn.park).
	watcher atomic.Pointer[hangup.Watcher]

	mu        sync.Mutex
	conns     map[*conn]struct{}
	listeners map[net.Listener]struct{}
	shutdown  bool
}

// New returns a server that gives writing one response writeTimeout and
// logs handler panics to log.
func New(log *slog.Logger, writeTimeout time.Duration) *Server {
	return &Server{log: log, writeTimeout: writeTimeout, conns: map[*conn]struct{}{}}
}

// ParkWith lets connections whose response is detached wait with no
// goroutine: w tells when such a client leaves, and the connection gets a
// goroutine again when its response is finished. Without it (or where w
// cannot watch a connection) a goroutine per connection waits in a read.
func (s *Server) ParkWith(w *hangup.Watcher) { s.watcher.Store(w) }

// Shutdown closes the listeners of Serve, idle connections now and every
// other one once its response is out, and takes no more over.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.shutdown = true
	for ln := range s.listeners {
		_ = ln.Close()
	}
	var idle []*conn
	for c := range s.conns {
		if c.idle {
			idle = append(idle, c)
		}
	}
	s.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
}

// Len returns how many connections the server holds.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// conn is one connection taken over.
type conn struct {
	s       *Server
	nc      net.Conn
	lr      *io.LimitedReader
	br      *bufio.Reader
	handler http.Handler
	// Copied from the http.Server that handed the connection over.
	srv           *http.Server
	local         net.Addr
	maxHeader     int64
	idleTimeout   time.Duration
	headerTimeout time.Duration

	// base carries what net/http puts in a request's context.
	base context.Context

	// idle: between responses, with no request read; guarded by s.mu.
	idle bool

	// awaitMu orders the read deadline of a detached response's wait:
	// Finish sets the deadline that wakes the reader, and await must not
	// clear it after a Finish that came first.
	awaitMu sync.Mutex

	// raw writes answers to the socket directly (Response.write), made on
	// the first answer (rawTried); nil where it cannot.
	raw      *rawWriter
	rawTried bool
	// remote is the client's address, each request's RemoteAddr.
	remote string
	// served: a request was waited for already (the idle timeout, not the
	// header timeout, applies from then on); only the serving goroutine
	// touches it.
	served bool
	// pool runs the connection again after a parked response (Serve's
	// kept goroutines); nil: a goroutine of its own.
	pool *gopool.Pool[*conn]
	// A fresh connection of Serve's: its first request goes to others
	// (net/http) unless mine says it is h1's (handOff).
	mine   func(method, target string) bool
	others *handoff
}

// Adopt takes over the HTTP/1.1 connection of r, whose handler called it,
// and gives back a detached response for r and the context r's handler
// must use from then on (r's own ends when the handler returns). It
// returns ok false, having done nothing, when r cannot be taken over (not
// HTTP/1.1 keep-alive, a body, a connection that cannot be hijacked, or a
// server shutting down).
func (s *Server) Adopt(w http.ResponseWriter, r *http.Request) (ctx context.Context, rw *Response, ok bool) {
	if r.ProtoMajor != 1 || r.ProtoMinor != 1 || r.Close || r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return nil, nil, false
	}
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil, nil, false
	}
	s.mu.Lock()
	shut := s.shutdown
	s.mu.Unlock()
	if shut {
		return nil, nil, false
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, false
	}
	// net/http may have left deadlines of its own.
	_ = nc.SetDeadline(time.Time{})
	c := s.newConn(nc, srv, r.Context().Value(http.LocalAddrContextKey))
	c.served = true // net/http read the first request
	pipelined := brw.Reader.Buffered() > 0
	if pipelined {
		// Bytes read past r: pipelined requests.
		b, _ := brw.Reader.Peek(brw.Reader.Buffered())
		c.lr.R = io.MultiReader(bytesReader(b), nc)
	}
	if !s.track(c) {
		_ = nc.Close()
		return nil, nil, false
	}
	ctx, cancel := context.WithCancel(c.baseContext())
	rw = c.newResponse(r.WithContext(ctx), cancel)
	rw.header = w.Header().Clone()
	rw.detached, rw.done = true, make(chan struct{})
	if pipelined || !c.park(rw) {
		go c.serve(rw)
	}
	return ctx, rw, true
}

func bytesReader(b []byte) io.Reader {
	cp := make([]byte, len(b))
	copy(cp, b)
	return &sliceReader{b: cp}
}

// sliceReader reads a byte slice once, then reports EOF.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

func (s *Server) newConn(nc net.Conn, srv *http.Server, local any) *conn {
	c := &conn{s: s, nc: nc, srv: srv, handler: srv.Handler}
	if c.handler == nil {
		c.handler = http.DefaultServeMux
	}
	if a, ok := local.(net.Addr); ok {
		c.local = a
	}
	c.maxHeader = int64(srv.MaxHeaderBytes)
	if c.maxHeader <= 0 {
		c.maxHeader = http.DefaultMaxHeaderBytes
	}
	c.idleTimeout = srv.IdleTimeout
	if c.idleTimeout <= 0 {
		c.idleTimeout = srv.ReadTimeout
	}
	if c.idleTimeout <= 0 {
		c.idleTimeout = DefaultIdleTimeout
	}
	c.headerTimeout = srv.ReadHeaderTimeout
	if c.headerTimeout <= 0 {
		c.headerTimeout = defaultHeaderTimeout
	}
	c.lr = &io.LimitedReader{R: nc, N: 1<<63 - 1}
	c.takeReader()
	return c
}

// readers recycles read buffers: a connection gives its own back when it
// closes, parks with nothing buffered, or a handler hijacks it with
// nothing buffered (an SSE stream), so that accepting a connection
// allocates none and a parked one holds none.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

// takeReader gives the connection a read buffer unless it has one.
func (c *conn) takeReader() {
	if c.br == nil {
		c.br = readers.Get().(*bufio.Reader)
		c.br.Reset(c.lr)
	}
}

// releaseReader gives the connection's read buffer back, if it holds
// one; the caller knows nothing is buffered that a request needs.
func (c *conn) releaseReader() {
	if c.br == nil {
		return
	}
	c.br.Reset(nil)
	readers.Put(c.br)
	c.br = nil
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// setIdle marks the connection idle or busy and reports false when the
// server is shutting down: an idle connection is closed then.
func (c *conn) setIdle(idle bool) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.idle = idle
	return !c.s.shutdown
}

func (c *conn) shuttingDown() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.shutdown
}

// baseContext carries what net/http puts in a request's context.
func (c *conn) baseContext() context.Context {
	if c.base == nil {
		c.base = context.WithValue(context.Background(), http.ServerContextKey, c.srv)
		if c.local != nil {
			c.base = context.WithValue(c.base, http.LocalAddrContextKey, c.local)
		}
	}
	return c.base
}

// serve runs the connection: it waits for the pending response (if any),
// then reads, handles and answers requests one after the other until the
// connection or the server ends.
func (c *conn) serve(pending *Response) {
	c.takeReader() // given back while parked
	keep := false  // hijacked, or parked for Finish to go on with
	defer func() {
		if !keep {
			c.end()
		}
	}()
	// A fresh connection (Serve) gets ReadHeaderTimeout for its first
	// request, as in net/http; the idle timeout applies between requests.
	wait := c.idleTimeout
	if pending == nil && !c.served {
		wait = c.headerTimeout
	}
	c.served = true
	for {
		if pending != nil {
			if !c.await(pending) {
				return
			}
			pending = nil
		}
		if !c.setIdle(true) {
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(wait))
		wait = c.idleTimeout
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if c.others != nil && c.handOff() {
			keep = true // net/http's now
			return
		}
		if !c.setIdle(false) {
			// Shutting down: a request that arrives now is not served.
			return
		}
		rw, status := c.readRequest()
		if rw == nil {
			if status != 0 {
				c.writeStatus(status)
			}
			return
		}
		if !c.handle(rw) {
			if keep = rw.hijacked; keep {
				c.s.untrack(c)
			}
			return
		}
		if rw.detached {
			if c.park(rw) {
				keep = true // Finish goes on with the connection
				return
			}
			pending = rw
			continue
		}
		if !rw.finish() || rw.closeAfter {
			return
		}
	}
}

// handle runs the handler; false: the connection is over (hijacked, or a
// panic).
func (c *conn) handle(rw *Response) (ok bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				c.s.log.Error("http handler panic", "path", rw.req.URL.Path, "panic", p)
			}
			rw.cancel()
			ok = false
		}
	}()
	c.handler.ServeHTTP(rw, rw.req)
	return !rw.hijacked
}

// park lets the connection's goroutine end while rw waits: the server's
// watcher cancels rw's request when the client leaves, and Finish starts
// a goroutine that goes on with the connection. It reports false, and the
// goroutine waits in await, when rw is finished already, bytes of a next
// request are read already, or there is no watcher to tell.
func (c *conn) park(rw *Response) bool {
	w := c.s.watcher.Load()
	if w == nil || c.br.Buffered() > 0 {
		return false
	}
	c.awaitMu.Lock()
	defer c.awaitMu.Unlock()
	select {
	case <-rw.done:
		return false
	default:
	}
	if rw.parked = w.WatchClose(c.nc, rw.clientGone); rw.parked == nil {
		return false
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.releaseReader() // Finish, under awaitMu, comes after
	return true
}

// await waits for a detached response while watching the connection: a
// client that leaves cancels the request's context, one that sends its
// next request early (pipelining) waits for this answer first. It
// reports whether the connection goes on.
func (c *conn) await(rw *Response) bool {
	c.awaitMu.Lock()
	select {
	case <-rw.done:
		// Finished already: the deadline it set stands.
	default:
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	c.awaitMu.Unlock()
	_, err := c.br.Peek(1)
	if err != nil {
		rw.clientGone()
	}
	<-rw.done
	return err == nil && rw.ok && !rw.closeAfter
}

// readRequest reads the next request's head; a nil response means the
// connection ends, after an error status when status is not 0.
func (c *conn) readRequest() (*Response, int) {
	c.lr.N = c.maxHeader + 4096 // as net/http: the limit plus slack for the request line
	ctx, cancel := context.WithCancel(c.baseContext())
	req, err := c.readHead(ctx)
	if err != nil {
		cancel()
		switch {
		case c.lr.N <= 0:
			return nil, http.StatusRequestHeaderFieldsTooLarge
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), isTimeout(err):
			return nil, 0
		}
		return nil, http.StatusBadRequest
	}
	c.lr.N = 1<<63 - 1
	if req.ProtoMajor != 1 {
		cancel()
		return nil, http.StatusHTTPVersionNotSupported
	}
	if !hostOK(req) {
		cancel()
		return nil, http.StatusBadRequest
	}
	if c.remote == "" {
		c.remote = c.nc.RemoteAddr().String()
	}
	req.RemoteAddr = c.remote
	if tc, ok := c.nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		req.TLS = &st
	}
	rw := c.newResponse(req, cancel)
	if req.Header.Get("Expect") == "100-continue" && req.ContentLength != 0 {
		if _, err := io.WriteString(c.nc, "HTTP/1.1 100 Continue\r\n\r\n"); err != nil {
			cancel()
			return nil, 0
		}
	}
	return rw, 0
}

// readHead reads a request head, with ctx for its context: parseHead
// reads it when it arrives whole in the buffer and is a plain one,
// http.ReadRequest reads any other (and any error). A head that came
// whole with the read that woke the connection (a poll's does) is taken
// without the header timeout's deadline: nothing is left to wait for, and
// the read deadline is two timer changes a request. Any other is read
// under that deadline, cleared once it is read; until then the idle one
// stands, which no read meets: a head parseHead takes has no body.
func (c *conn) readHead(ctx context.Context) (*http.Request, error) {
	if r, n, ok := parseHead(c.buffered()); ok {
		_, _ = c.br.Discard(n)
		return r.WithContext(ctx), nil
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.headerTimeout))
	defer func() { _ = c.nc.SetReadDeadline(time.Time{}) }()
	for {
		b := c.buffered()
		r, n, ok := parseHead(b)
		if ok {
			_, _ = c.br.Discard(n)
			return r.WithContext(ctx), nil
		}
		if n > 0 || len(b) == c.br.Size() {
			break // not a plain head, or one longer than the buffer
		}
		if _, err := c.br.Peek(len(b) + 1); err != nil {
			break // http.ReadRequest meets the error again
		}
	}
	req, err := http.ReadRequest(c.br)
	if err != nil {
		return nil, err
	}
	return req.WithContext(ctx), nil
}

// buffered returns what the reader holds unread.
func (c *conn) buffered() []byte {
	b, _ := c.br.Peek(c.br.Buffered())
	return b
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeStatus answers a request that could not be read. The caller
// closes the connection; what the client still sends is read for a
// moment first, so that closing does not reset the connection before the
// client has read the answer (as net/http does).
func (c *conn) writeStatus(status int) {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.s.writeTimeout))
	msg := strconv.Itoa(status) + " " + http.StatusText(status)
	_, _ = io.WriteString(c.nc, "HTTP/1.1 "+msg+"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "+
		strconv.Itoa(len(msg))+"\r\n\r\n"+msg)
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		_ = c.nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.nc, maxDiscard))
	}
}

// copyDiscard reads b to its end, or maxDiscard bytes.
func copyDiscard(b io.Reader) (int64, error) {
	return io.Copy(io.Discard, io.LimitReader(b, maxDiscard))
}

// end closes the connection and forgets it.
func (c *conn) end() {
	_ = c.nc.Close()
	c.s.untrack(c)
	c.releaseReader()
}

// resume goes on with a parked connection once its response is out:
// a goroutine serves the next request (a kept one of Serve's), or the
// connection closes.
func (c *conn) resume(keep bool) {
	switch {
	case !keep:
		c.end()
	case c.pool != nil:
		c.pool.Go(c)
	default:
		go c.serve(nil)
	}
}
