package transport

import (
	"net/http"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/longpoll"
)

// handlePoll serves GET /connection/{project}/poll (docs/protocol.md, Long poll): it answers
// as soon as one event or more is ready, or with none at the timeout.
func (s *Server) handlePoll(w http.ResponseWriter, r *http.Request, p *structure.Project, a access) {
	q := r.URL.Query()
	timeout, ok := longpoll.ParseTimeout(q.Get("timeout"))
	if !ok {
		writeError(w, pubsub.Errorf(pubsub.CodeBadRequest, "timeout must be a number of seconds"))
		return
	}
	req, perr := s.streamRequest(r, q, p, a, "poll", q.Get("since"), "")
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
		if ctx, rw, ok := s.h1.Detach(w, r, !s.opts.NoHijack); ok {
			// HTTP/1.1: the connection is transport/h1's, and the poll
			// waits with no goroutine; the hub or the timer answers it.
			rw.OnGone(longpoll.Wait(ctx, st, sink, wait, func(err error) {
				if err != nil {
					st.Close()
					writeError(rw, pubsub.Errorf(pubsub.CodeUnavailable, "%s", pubsub.AsError(err).Message))
				} else {
					s.polls.Answer(rw, st, sink, key, parkable)
				}
				rw.Finish()
			}, func() { st.Close(); rw.Finish() }))
			return
		}
		answer, err := longpoll.WaitHere(ctx, st, sink, wait)
		if err != nil {
			writeError(w, pubsub.Errorf(pubsub.CodeUnavailable, "%s", pubsub.AsError(err).Message))
		}
		if !answer {
			st.Close()
			return
		}
	}
	s.polls.Answer(w, st, sink, key, parkable)
}
