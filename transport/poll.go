package transport

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/h1"
	"github.com/rotor-rt/rotor/transport/longpoll"
)

// Poll timeouts in seconds (docs/protocol.md, Long poll).
const (
	pollDefaultTimeout = 25
	pollMaxTimeout     = 60
)

// handlePoll serves GET /connection/{project}/poll (docs/protocol.md, Long poll): it answers
// as soon as one event or more is ready, or with none at the timeout.
func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request, p *structure.Project) {
	q := r.URL.Query()
	timeout, ok := parseTimeout(q.Get("timeout"), pollDefaultTimeout, pollMaxTimeout)
	if !ok {
		writeError(w, pubsub.Errorf(pubsub.CodeBadRequest, "timeout must be a number of seconds"))
		return
	}
	req, perr := s.streamRequest(r, p, "poll", q.Get("since"), "")
	if perr != nil {
		writeError(w, perr)
		return
	}
	req.QuietResume = true
	ctx := r.Context()
	// The client's last poll may have parked its subscription for this one.
	key, parkable := longpoll.KeyOf(req, s.opts.Limits)
	st, sink, ok := s.polls.Take(ctx, key)
	if !ok {
		sink = &longpoll.Sink{}
		if st, perr = s.node.OpenStream(ctx, req, sink); perr != nil {
			writeError(w, perr)
			return
		}
	}
	wait := time.Duration(timeout) * time.Second
	if sink.N == 0 && wait > 0 {
		if ctx, rw, ok := detach(w, r, s.h1, s.opts.NoHijack); ok {
			// HTTP/1.1: the connection is transport/h1's, and the poll
			// waits with no goroutine; the hub or the timer answers it.
			longpoll.Wait(ctx, st, sink, wait, func(err error) {
				if err != nil {
					st.Close()
					writeError(rw, pubsub.Errorf(pubsub.CodeUnavailable, "%s", pubsub.AsError(err).Message))
				} else {
					s.polls.Answer(rw, st, sink, key, parkable)
				}
				rw.Finish()
			}, func() { st.Close(); rw.Finish() })
			return
		}
		if !pollWait(ctx, w, st, sink, wait) {
			st.Close()
			return
		}
	}
	s.polls.Answer(w, st, sink, key, parkable)
}

// detach gives a poll that must wait a response it may complete later:
// its own when transport/h1 serves the connection already, or one of the
// HTTP/1.1 connection srv takes over (none with noHijack).
func detach(w http.ResponseWriter, r *http.Request, srv *h1.Server, noHijack bool) (context.Context, *h1.Response, bool) {
	if rw := h1.Of(w); rw != nil {
		return r.Context(), rw, rw.Detach()
	}
	if noHijack {
		return nil, nil, false
	}
	return srv.Adopt(w, r)
}

// pollWait waits in the handler (HTTP/2) until the sink has events or
// wait passes; false: the client left, or an error was answered.
func pollWait(ctx context.Context, w http.ResponseWriter, st *node.Stream, sink *longpoll.Sink, wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for sink.N == 0 {
		select {
		case <-ctx.Done():
			return false
		case <-timer.C:
			return true
		case <-st.Done():
			st.Disconnected()
		case <-st.Ready():
			if err := st.Drain(ctx); err != nil {
				writeError(w, pubsub.Errorf(pubsub.CodeUnavailable, "%s", pubsub.AsError(err).Message))
				return false
			}
		}
	}
	return true
}

// parseTimeout reads a poll timeout in seconds within [1, max].
func parseTimeout(s string, def, max int) (int, bool) {
	if s == "" {
		return def, true
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, false
	}
	if v > max {
		v = max
	}
	return v, true
}
