package transport

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
)

// Poll timeouts in seconds (docs/protocol.md, Long poll).
const (
	pollDefaultTimeout = 25
	pollMaxTimeout     = 60
)

// pollSink gathers events as the JSON array of a poll answer.
type pollSink struct {
	buf  []byte
	n    int
	pubs int
}

func (s *pollSink) event(kind pubsub.EventKind, _ []byte, data []byte) {
	if s.n > 0 {
		s.buf = append(s.buf, ',')
	}
	s.n++
	if kind == pubsub.EventPub {
		s.pubs++
	}
	s.buf = append(s.buf, `{"event":"`...)
	s.buf = append(s.buf, kind.String()...)
	s.buf = append(s.buf, `","data":`...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, '}')
}

// handlePoll serves GET /connection/{project}/poll (docs/protocol.md, Long poll): it answers
// as soon as one event or more is ready, or with none at the timeout.
func (n *Node) handlePoll(w http.ResponseWriter, r *http.Request, p *admin.Project) {
	q := r.URL.Query()
	timeout, ok := parseTimeout(q.Get("timeout"), pollDefaultTimeout, pollMaxTimeout)
	if !ok {
		writeError(w, http.StatusBadRequest, pubsub.Errorf(pubsub.CodeBadRequest, "timeout must be a number of seconds"))
		return
	}
	req, st, release := n.openStream(w, r, p, "poll", q.Get("since"), "")
	if st == nil {
		return
	}
	defer release()
	ctx := r.Context()
	defer n.streams.Done()
	defer st.Close()

	sink := &pollSink{}
	state := &streamState{n: n, st: st, chans: req.chans, sink: sink}
	if err := state.start(ctx, req.since, req.since == nil); err != nil {
		writeError(w, http.StatusServiceUnavailable, n.fail(err))
		return
	}
	for i := range state.chans {
		n.presence.enter(state.chans[i].ref, state.chans[i].info)
	}
	defer func() {
		for i := range state.chans {
			if !state.chans[i].gone {
				n.presence.exit(state.chans[i].ref, req.id.client, false)
			}
		}
	}()

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
				sink.event(pubsub.EventDisconnect, nil, disconnectData(st.Reason()))
			case <-st.Ready():
				if err := state.drain(ctx); err != nil {
					writeError(w, http.StatusServiceUnavailable, pubsub.AsError(err))
					return
				}
			}
		}
	}
	out := make([]byte, 0, len(sink.buf)+256)
	out = append(out, `{"events":[`...)
	out = append(out, sink.buf...)
	out = append(out, `],"id":`...)
	id, _ := json.Marshal(string(state.id()))
	out = append(out, id...)
	out = append(out, "}\n"...)
	n.metrics.pollDeliveries.Add(float64(sink.pubs))
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}
