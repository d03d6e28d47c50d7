package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Pusher-compatible publishing: the two publishing methods of Pusher's
// Channels HTTP API, so a backend that uses a Pusher server library
// publishes to Rotor by changing its host. App id and key are the project
// id, the secret is the project's API key. Answers and errors follow
// Pusher's API: 200 `{}`, or a status with a plain-text explanation.

const (
	// pusherMaxChannels is Pusher's limit of channels per event.
	pusherMaxChannels = 100
	// pusherMaxBatch bounds the events of one batch_events call. Pusher's
	// default plan allows 10; a self-hosted server can afford more, and
	// the body limit bounds the work anyway.
	pusherMaxBatch = 100
	// pusherMaxName is Pusher's limit on an event name.
	pusherMaxName = 200
)

// pusherRoutes mounts POST /apps/{project}/events and
// /apps/{project}/batch_events.
func (s *Server) pusherRoutes(r chi.Router) {
	r.Post("/apps/{project}/events", s.handlePusherEvents)
	r.Post("/apps/{project}/batch_events", s.handlePusherBatch)
}

// pusherEvent is one event of Pusher's HTTP API. Data is a string in
// Pusher's API; any other JSON value is accepted and published as is.
type pusherEvent struct {
	Name     string          `json:"name"`
	Data     json.RawMessage `json:"data"`
	Channels []string        `json:"channels"`
	// Channel is the single channel of a batch item (and an accepted
	// alternative to channels in /events).
	Channel string `json:"channel"`
	// SocketID excludes a Pusher connection from the recipients; Rotor
	// has no such connection, so it is read and ignored.
	SocketID string `json:"socket_id"`
}

// pusherFailure is an answer other than 200: an HTTP status and Pusher's
// plain-text explanation.
type pusherFailure struct {
	status int
	msg    string
}

func pusherFail(status int, format string, args ...any) *pusherFailure {
	return &pusherFailure{status: status, msg: fmt.Sprintf(format, args...)}
}

func (f *pusherFailure) write(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(f.status)
	_, _ = fmt.Fprintln(w, f.msg)
}

// pusherPublication is a resolved event ready to publish: its Rotor data
// and its channels.
type pusherPublication struct {
	data  json.RawMessage
	chans []node.Ref
}

func (s *Server) handlePusherEvents(w http.ResponseWriter, r *http.Request) {
	s.servePusher(w, r, func(p *structure.Project, body []byte) ([]pusherPublication, *pusherFailure) {
		var ev pusherEvent
		if err := json.Unmarshal(body, &ev); err != nil {
			return nil, pusherFail(http.StatusBadRequest, "Invalid JSON body: %v", err)
		}
		names := ev.Channels
		if len(names) == 0 && ev.Channel != "" {
			names = []string{ev.Channel}
		}
		pub, f := s.pusherResolve(p, ev, names)
		if f != nil {
			return nil, f
		}
		return []pusherPublication{pub}, nil
	})
}

func (s *Server) handlePusherBatch(w http.ResponseWriter, r *http.Request) {
	s.servePusher(w, r, func(p *structure.Project, body []byte) ([]pusherPublication, *pusherFailure) {
		var b struct {
			Batch []pusherEvent `json:"batch"`
		}
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, pusherFail(http.StatusBadRequest, "Invalid JSON body: %v", err)
		}
		if len(b.Batch) == 0 {
			return nil, pusherFail(http.StatusBadRequest, "Missing batch: expected {\"batch\": [events]}")
		}
		if len(b.Batch) > pusherMaxBatch {
			return nil, pusherFail(http.StatusBadRequest, "Batch too large: %d events, at most %d", len(b.Batch), pusherMaxBatch)
		}
		pubs := make([]pusherPublication, len(b.Batch))
		for i, ev := range b.Batch {
			if ev.Channel == "" {
				return nil, pusherFail(http.StatusBadRequest, "Batch event %d: missing channel", i)
			}
			pub, f := s.pusherResolve(p, ev, []string{ev.Channel})
			if f != nil {
				f.msg = fmt.Sprintf("Batch event %d: %s", i, f.msg)
				return nil, f
			}
			pubs[i] = pub
		}
		return pubs, nil
	})
}

// servePusher authenticates a Pusher API request, lets parse turn its body
// into publications and publishes them. Every event is checked before the
// first is published, so a bad event publishes nothing.
func (s *Server) servePusher(w http.ResponseWriter, r *http.Request, parse func(*structure.Project, []byte) ([]pusherPublication, *pusherFailure)) {
	ctx := r.Context()
	id := chi.URLParam(r, "project")
	p, perr := s.project(ctx, id)
	if perr != nil {
		if perr.Kind == pubsub.KindNotFound {
			pusherFail(http.StatusNotFound, "Unknown app %q", id).write(w)
		} else {
			pusherFail(statusOf(perr), "%s", perr.Message).write(w)
		}
		return
	}
	body, perr := readBody(r, s.opts.MaxBody)
	if perr != nil {
		pusherFail(statusOf(perr), "%s", perr.Message).write(w)
		return
	}
	if err := checkPusherSignature(r.Method, r.URL.Path, r.URL.Query(), body, p.ID, p.APIKey, s.opts.Now()); err != nil {
		pusherFail(http.StatusUnauthorized, "%s", err.Error()).write(w)
		return
	}
	if perr := s.node.Limits().AllowAPI(p.APIKey); perr != nil {
		pusherFail(http.StatusTooManyRequests, "Too many requests").write(w)
		return
	}
	pubs, f := parse(p, body)
	if f != nil {
		f.write(w)
		return
	}
	for _, pub := range pubs {
		for _, c := range pub.chans {
			if _, perr := s.node.Publish(ctx, c, pub.data, nil); perr != nil {
				pusherFail(pusherStatus(perr), "Publish to %q: %s", c.Name(), perr.Message).write(w)
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, struct{}{})
}

// pusherStatus maps a publish error to the status Pusher's API would use.
func pusherStatus(e *pubsub.Error) int {
	switch e.Code {
	case pubsub.CodeLimitExceeded:
		return http.StatusRequestEntityTooLarge
	case pubsub.CodeUnavailable:
		return http.StatusServiceUnavailable
	case pubsub.CodeInternal:
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// pusherResolve checks one event and builds its Rotor data
// {"event": name, "data": …} for the channels names.
func (s *Server) pusherResolve(p *structure.Project, ev pusherEvent, names []string) (pusherPublication, *pusherFailure) {
	if ev.Name == "" {
		return pusherPublication{}, pusherFail(http.StatusBadRequest, "Missing event name")
	}
	if len(ev.Name) > pusherMaxName {
		return pusherPublication{}, pusherFail(http.StatusBadRequest, "Event name too long: at most %d characters", pusherMaxName)
	}
	if len(names) == 0 {
		return pusherPublication{}, pusherFail(http.StatusBadRequest, "Missing channels")
	}
	if len(names) > pusherMaxChannels {
		return pusherPublication{}, pusherFail(http.StatusBadRequest, "Too many channels: %d, at most %d", len(names), pusherMaxChannels)
	}
	if len(ev.Data) == 0 {
		return pusherPublication{}, pusherFail(http.StatusBadRequest, "Missing data")
	}
	data, err := pusherData(ev.Name, ev.Data)
	if err != nil {
		return pusherPublication{}, pusherFail(http.StatusBadRequest, "Invalid data: %v", err)
	}
	if perr := s.node.Limits().CheckSize(len(data)); perr != nil {
		return pusherPublication{}, pusherFail(http.StatusRequestEntityTooLarge, "Event too large: %d bytes, at most %d", len(data), s.node.Limits().MaxData())
	}
	pub := pusherPublication{data: data, chans: make([]node.Ref, len(names))}
	for i, name := range names {
		c, perr := node.Resolve(p, name)
		if perr != nil {
			return pusherPublication{}, pusherFail(http.StatusBadRequest, "Invalid channel %q: %s", name, perr.Message)
		}
		pub.chans[i] = c
	}
	return pub, nil
}

// pusherData turns a Pusher event into Rotor data: {"event": name,
// "data": v}, where v is the event's data string parsed as JSON, or the
// string itself when it is not JSON.
func pusherData(name string, raw json.RawMessage) (json.RawMessage, error) {
	inner := raw
	var s string
	if err := json.Unmarshal(raw, &s); err == nil && json.Valid([]byte(s)) {
		inner = json.RawMessage(s)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	// The data reaches browsers as JSON, never HTML: keep <, > and & as
	// they came, like the server API does.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}{name, inner}); err != nil {
		return nil, err
	}
	out, perr := node.CompactData(buf.Bytes())
	if perr != nil {
		return nil, perr
	}
	return out, nil
}
