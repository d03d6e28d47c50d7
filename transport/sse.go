package transport

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
)

// sseRetry is the reconnection delay advised to browsers, in ms.
const sseRetry = 2000

// sseSink writes events as text/event-stream frames into a buffer that
// the stream flushes in one write per wake-up, however many events it
// holds (coalescing).
type sseSink struct {
	buf  []byte
	pubs int
}

var (
	sseID    = []byte("id: ")
	sseEvent = []byte("event: ")
	sseData  = []byte("data: ")
	ssePing  = []byte(": ping\n\n")
)

func (s *sseSink) event(kind pubsub.EventKind, id []byte, data []byte) {
	if kind == pubsub.EventPub {
		s.pubs++
	}
	if id != nil {
		s.buf = append(s.buf, sseID...)
		s.buf = append(s.buf, id...)
		s.buf = append(s.buf, '\n')
	}
	s.buf = append(s.buf, sseEvent...)
	s.buf = append(s.buf, kind.String()...)
	s.buf = append(s.buf, '\n')
	// Data is compact JSON and holds no newline; split anyway, as the
	// format requires (STYLE: validate at the edge).
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		s.buf = append(s.buf, sseData...)
		s.buf = append(s.buf, bytes.TrimSuffix(data[:i], []byte{'\r'})...)
		s.buf = append(s.buf, '\n')
		data = data[i+1:]
	}
	s.buf = append(s.buf, sseData...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, '\n', '\n')
}

// lifetimeReason ends a stream at http.stream_lifetime.
var lifetimeReason = &pubsub.Disconnect{Code: pubsub.DisconnectNormal, Reason: "stream lifetime reached", Reconnect: true}

// handleSSE serves GET /connection/{project}/sse (SPEC §3.3).
func (n *Node) handleSSE(w http.ResponseWriter, r *http.Request, p *admin.Project) {
	since := r.URL.Query().Get("since")
	if since == "" {
		since = r.Header.Get("Last-Event-ID")
	}
	req, bad := n.parseStream(r, p, since)
	if bad != nil {
		writeError(w, bad.status, bad.err)
		return
	}
	release, bad := n.acquire(n.clientIP(r), req.id.client, len(req.chans))
	if bad != nil {
		writeError(w, bad.status, bad.err)
		return
	}
	defer release()
	n.metrics.streamsOpen.WithLabelValues("sse").Inc()
	ctx := r.Context()
	keys := make([]string, len(req.chans))
	for i, c := range req.chans {
		keys[i] = c.ref.key
	}
	st, err := n.hub.Open(ctx, pubsub.StreamOptions{
		Project: p.ID, Client: req.id.client, User: req.id.user, QueueBytes: n.opts.QueueBytes,
	}, keys)
	if err != nil {
		e := pubsub.AsError(err)
		if errors.Is(err, pubsub.ErrClosed) {
			e = pubsub.Errorf(pubsub.CodeUnavailable, "server shutting down")
		}
		writeError(w, http.StatusServiceUnavailable, e)
		return
	}
	n.streams.Add(1)
	defer n.streams.Done()
	defer st.Close()

	sink := &sseSink{}
	state := &streamState{n: n, st: st, chans: req.chans, sink: sink}
	if err := state.start(ctx, req.since, true); err != nil {
		n.log.Warn("stream start", "err", err)
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
	if !req.id.expires.IsZero() {
		t := time.AfterFunc(time.Until(req.id.expires), func() { st.End(pubsub.DisconnectExpiredReason) })
		defer t.Stop()
	}

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache, no-transform")
	h.Set("X-Accel-Buffering", "no")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	head := []byte("retry: " + strconv.Itoa(sseRetry) + "\n\n")
	if n.opts.Padding > 0 {
		head = append(head, ':')
		head = append(head, bytes.Repeat([]byte{' '}, n.opts.Padding)...)
		head = append(head, '\n', '\n')
	}
	sink.buf = append(head, sink.buf...)
	if d := n.opts.StreamLifetime; d > 0 {
		// ±10% jitter so streams opened together do not all reconnect
		// together.
		d += time.Duration((rand.Float64()*0.2 - 0.1) * float64(d))
		t := time.AfterFunc(d, func() { st.End(lifetimeReason) })
		defer t.Stop()
	}

	rc := http.NewResponseController(w)
	flush := func() bool {
		_ = rc.SetWriteDeadline(time.Now().Add(n.opts.WriteTimeout))
		if len(sink.buf) > 0 {
			if _, err := w.Write(sink.buf); err != nil {
				return false
			}
			sink.buf = sink.buf[:0]
		}
		if sink.pubs > 0 {
			n.metrics.sseDeliveries.Add(float64(sink.pubs))
			sink.pubs = 0
		}
		return rc.Flush() == nil
	}
	if !flush() {
		return
	}
	ping := time.NewTicker(n.opts.Ping)
	defer ping.Stop()
	wrote := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-st.Done():
			if err := state.drain(ctx); err == nil {
				sink.event(pubsub.EventDisconnect, nil, disconnectData(st.Reason()))
			} else {
				sink.event(pubsub.EventDisconnect, nil, disconnectData(st.Reason()))
			}
			flush()
			return
		case <-st.Ready():
			if err := state.drain(ctx); err != nil {
				n.log.Warn("stream resync failed", "err", err)
				sink.event(pubsub.EventDisconnect, nil, disconnectData(&pubsub.Disconnect{Code: pubsub.DisconnectNormal, Reason: "engine unavailable", Reconnect: true}))
				flush()
				return
			}
			if len(sink.buf) == 0 {
				continue
			}
			if !flush() {
				return
			}
			wrote = true
		case <-ping.C:
			if wrote {
				wrote = false
				continue
			}
			sink.buf = append(sink.buf, ssePing...)
			if !flush() {
				return
			}
		}
	}
}
