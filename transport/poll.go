package transport

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
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
	parked := false
	defer func() {
		if !parked {
			st.Close()
		}
	}()

	if sink.N == 0 && timeout > 0 {
		timer := time.NewTimer(time.Duration(timeout) * time.Second)
		defer timer.Stop()
	wait:
		for sink.N == 0 {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
				break wait
			case <-st.Done():
				st.Disconnected()
			case <-st.Ready():
				if err := st.Drain(ctx); err != nil {
					writeError(w, pubsub.Errorf(pubsub.CodeUnavailable, "%s", pubsub.AsError(err).Message))
					return
				}
			}
		}
	}
	out := make([]byte, 0, len(sink.Buf)+256)
	out = append(out, `{"events":[`...)
	out = append(out, sink.Buf...)
	out = append(out, `],"id":`...)
	since := string(st.ID())
	id, _ := json.Marshal(since)
	out = append(out, id...)
	out = append(out, "}\n"...)
	st.Delivered()
	// Parked before the answer goes out, so that the client's next poll
	// finds it; from then on st is another poll's.
	parked = parkable && s.polls.Put(key, since, st, sink)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
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
