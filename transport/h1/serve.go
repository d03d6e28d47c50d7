package h1

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rotor-rt/rotor/transport/gopool"
)

// Serve accepts connections on ln and serves each as HTTP/1.1 from its
// first request, the way srv would (its Handler, MaxHeaderBytes,
// ReadHeaderTimeout and IdleTimeout), without net/http's per-connection
// state: a connection costs one goroutine and a 1 KiB read buffer, and a
// handler that hijacks it (an SSE stream) leaves nothing of net/http
// behind. It speaks HTTP/1.x only: a listener that must also take
// HTTP/2 (TLS with ALPN, h2c) stays with srv. Serve returns
// http.ErrServerClosed after Shutdown or Close, and ln is closed then.
func (s *Server) Serve(ln net.Listener, srv *http.Server) error {
	if !s.addListener(ln) {
		_ = ln.Close()
		return http.ErrServerClosed
	}
	defer s.removeListener(ln)
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
		c.pool = fresh
		c.base = context.WithValue(base, http.LocalAddrContextKey, nc.LocalAddr())
		if !s.track(c) {
			_ = nc.Close()
			return http.ErrServerClosed
		}
		fresh.Go(c)
	}
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
	return strings.IndexFunc(req.Host, badHostRune) < 0
}

func badHostRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("!$%&'()*+,-.:;=[]_~", r)
}
