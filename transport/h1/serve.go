package h1

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rotor-rt/rotor/transport/gopool"
	"golang.org/x/net/http/httpguts"
)

// Serve accepts connections on ln. One whose first request mine accepts
// (by its method and request target) is served as HTTP/1.1 from that
// request on, the way srv would (its Handler, MaxHeaderBytes,
// ReadHeaderTimeout and IdleTimeout), without net/http's per-connection
// state: it costs one goroutine and a 1 KiB read buffer, and a handler
// that hijacks it (an SSE stream) leaves nothing of net/http behind.
// Every other connection goes to srv, with the bytes read of it, on a
// listener of Serve's that srv serves until Serve returns. It speaks
// HTTP/1.x only: a listener that must also take HTTP/2 (TLS with ALPN,
// h2c) stays with srv. Serve returns http.ErrServerClosed after Shutdown
// or Close, and ln is closed then.
func (s *Server) Serve(ln net.Listener, srv *http.Server, mine func(method, target string) bool) error {
	if !s.addListener(ln) {
		_ = ln.Close()
		return http.ErrServerClosed
	}
	defer s.removeListener(ln)
	others := &handoff{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	defer others.Close()
	go func() { _ = srv.Serve(others) }() // ends when others closes, or srv shuts down
	// Connections are served on kept goroutines: one whose connection was
	// hijacked (an SSE stream) serves the next with the stack it grew.
	fresh := gopool.New(keptConnGoroutines, func(c *conn) { c.serve(nil) })
	defer fresh.Stop()
	base := context.WithValue(context.Background(), http.ServerContextKey, srv)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closed() {
				return http.ErrServerClosed
			}
			if !temporary(err) {
				return err
			}
			// As net/http: out of file descriptors and the like pass.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.log.Warn("http: accept error; retrying", "err", err, "delay", delay)
			time.Sleep(delay)
			continue
		}
		delay = 0
		c := s.newConn(nc, srv, nil)
		c.pool, c.mine, c.others = fresh, mine, others
		c.base = context.WithValue(base, http.LocalAddrContextKey, nc.LocalAddr())
		if !s.track(c) {
			_ = nc.Close()
			return http.ErrServerClosed
		}
		fresh.Go(c)
	}
}

// handOff gives a fresh connection whose first request is not one of
// mine to net/http, with what was read of it; it reports whether it did.
// A first line that cannot be read, or is longer than the read buffer,
// goes there too: net/http answers it.
func (c *conn) handOff() bool {
	mine, others := c.mine, c.others
	c.mine, c.others = nil, nil
	if method, target, ok := c.requestLine(); ok && mine(method, target) {
		return false
	}
	_ = c.nc.SetReadDeadline(time.Time{}) // net/http sets its own
	rc := &replayConn{Conn: c.nc, pending: bytes.Clone(c.buffered())}
	c.releaseReader()
	c.s.untrack(c)
	others.give(rc)
	return true
}

// requestLine peeks at the method and request target of the first line
// of a request, reading (under the deadline set) until it is whole.
func (c *conn) requestLine() (method, target string, ok bool) {
	for {
		b := c.buffered()
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			method, rest, _ := strings.Cut(string(b[:i]), " ")
			target, _, ok = strings.Cut(rest, " ")
			return method, target, ok
		}
		if len(b) == c.br.Size() {
			return "", "", false
		}
		if _, err := c.br.Peek(len(b) + 1); err != nil {
			return "", "", false
		}
	}
}

// handoff is the listener Serve gives net/http the connections it does
// not serve itself on.
type handoff struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *handoff) Accept() (net.Conn, error) {
	select {
	case nc := <-l.conns:
		return nc, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoff) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoff) Addr() net.Addr { return l.addr }

// give hands nc over, or closes it once the listener is closed.
func (l *handoff) give(nc net.Conn) {
	select {
	case l.conns <- nc:
	case <-l.done:
		_ = nc.Close()
	}
}

// replayConn is a connection handed to net/http: reads return what h1
// read of it first. It passes on CloseWrite (net/http's lingering close
// after an error answer) and SyscallConn (a hijacker's direct writes and
// hangup watch); pending is read-ahead of a request net/http reads
// before any of that.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *replayConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// keptConnGoroutines is how many goroutines of Serve wait for the next
// connection instead of exiting.
const keptConnGoroutines = 16

// temporary reports whether an accept error may pass (EMFILE, a
// connection aborted before it was accepted).
func temporary(err error) bool {
	var te interface{ Temporary() bool }
	return errors.As(err, &te) && te.Temporary()
}

func (s *Server) closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

func (s *Server) addListener(ln net.Listener) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shutdown {
		return false
	}
	if s.listeners == nil {
		s.listeners = map[net.Listener]struct{}{}
	}
	s.listeners[ln] = struct{}{}
	return true
}

func (s *Server) removeListener(ln net.Listener) {
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
}

// Drain waits, after Shutdown, until every connection the server holds
// has closed, or ctx is done: then it closes those left and returns
// ctx's error. Hijacked connections are not the server's any more.
func (s *Server) Drain(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.Len() > 0 {
		select {
		case <-ctx.Done():
			s.Close()
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// Close shuts the server down and closes every connection it holds at
// once, busy or not.
func (s *Server) Close() {
	s.Shutdown()
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.nc.Close()
	}
}

// hostOK checks the Host as net/http's server does: an HTTP/1.1
// request needs one (http.ReadRequest refuses two, and moves it to
// req.Host), of the bytes a host and port may hold.
func hostOK(req *http.Request) bool {
	if req.Host == "" {
		return req.ProtoMinor == 0 || req.Method == http.MethodConnect
	}
	return httpguts.ValidHostHeader(req.Host)
}
