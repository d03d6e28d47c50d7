package transport

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// errBodyTimeout marks a request body that did not arrive within
// Options.BodyTimeout (HTTP 408).
var errBodyTimeout = errors.New("request body not received in time")

// guardBody bounds the body of a request that has one, before next reads
// it. The server has no ReadTimeout (streams live for hours), so each body
// gets its own read deadline, cleared once the body is read so that the
// server's watch for a closed connection does not cancel the request while
// it is being answered. Until then the request holds a connections_per_ip
// slot: a client dribbling bodies ties up connections as streams do. With
// limit > 0 the body is at most limit bytes: 413 at once when
// Content-Length says more, else when the reader crosses it.
func (s *Server) guardBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		// The deadline comes first: even a request refused here has its
		// body read (and discarded) by net/http before the answer goes out.
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(s.opts.BodyTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			s.log.WarnContext(r.Context(), "set body read deadline", "err", err)
		}
		if limit > 0 && r.ContentLength > limit {
			refuseBody(w, r, errTooLarge)
			return
		}
		release, perr := s.node.Limits().HoldIP(s.clientIP(r))
		if perr != nil {
			refuseBody(w, r, perr)
			return
		}
		defer release()
		body := r.Body
		if limit > 0 {
			body = http.MaxBytesReader(w, body, limit)
		}
		r.Body = &guardedBody{ReadCloser: body, limit: limit, release: release, rc: rc}
		next.ServeHTTP(w, r)
	})
}

// refuseBody answers a request without reading its body. Over HTTP/1 it
// closes the connection after the answer: otherwise net/http would first
// read the unread body (up to 256 KiB) to keep the connection, so a slow
// sender would hold the answer back until the body deadline. HTTP/2 resets
// just the stream, and there "Connection: close" would wind down the whole
// connection, streams included.
func refuseBody(w http.ResponseWriter, r *http.Request, e *pubsub.Error) {
	if r.ProtoMajor == 1 {
		w.Header().Set("Connection", "close")
	}
	writeError(w, e)
}

// GuardBodies gives the routes it wraps the body read deadline and the
// connections_per_ip accounting of the client endpoints, without a size
// limit: for routes that bound their own bodies, like the admin UI.
func (s *Server) GuardBodies(next http.Handler) http.Handler { return s.guardBody(0, next) }

// limitBody is guardBody with client.max_body, for the client endpoints
// and the server API.
func (s *Server) limitBody(next http.Handler) http.Handler { return s.guardBody(s.opts.MaxBody, next) }

// guardedBody gives back the connections_per_ip slot and clears the read
// deadline once, when the body has been read to its end. limit is the
// bound its reader enforces already (0 for none).
type guardedBody struct {
	io.ReadCloser
	limit   int64
	once    sync.Once
	release func()
	rc      *http.ResponseController
}

func (b *guardedBody) done() {
	b.release()
	_ = b.rc.SetReadDeadline(time.Time{})
}

func (b *guardedBody) Read(p []byte) (int, error) {
	k, err := b.ReadCloser.Read(p)
	switch {
	case errors.Is(err, io.EOF):
		b.once.Do(b.done)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("%w: %w", errBodyTimeout, err)
	}
	return k, err
}
