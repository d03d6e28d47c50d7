package transport

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Poll timeouts in seconds (docs/protocol.md, Long poll).
const (
	pollDefaultTimeout = 25
	pollMaxTimeout     = 60
)

// pollSink gathers events as the JSON array of a poll answer.
type pollSink struct {
	buf []byte
	n   int
}

var _ node.Sink = (*pollSink)(nil)

// Event implements node.Sink.
func (s *pollSink) Event(kind pubsub.EventKind, _ []byte, data []byte) {
	if s.n > 0 {
		s.buf = append(s.buf, ',')
	}
	s.n++
	s.buf = append(s.buf, `{"event":"`...)
	s.buf = append(s.buf, kind.String()...)
	s.buf = append(s.buf, `","data":`...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, '}')
}

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
	sink := &pollSink{}
	st, perr := s.node.OpenStream(ctx, req, sink)
	if perr != nil {
		writeError(w, perr)
		return
	}
	defer st.Close()

	if sink.n == 0 && timeout > 0 {
		timer := time.NewTimer(time.Duration(timeout) * time.Second)
		defer timer.Stop()
	wait:
		for sink.n == 0 {
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
	out := make([]byte, 0, len(sink.buf)+256)
	out = append(out, `{"events":[`...)
	out = append(out, sink.buf...)
	out = append(out, `],"id":`...)
	id, _ := json.Marshal(string(st.ID()))
	out = append(out, id...)
	out = append(out, "}\n"...)
	st.Delivered()
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
