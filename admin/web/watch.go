package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"path"
	"time"

	"github.com/rotor-rt/rotor/views"
)

const (
	// watchPing keeps proxies from closing an idle watch stream.
	watchPing = 15 * time.Second
	// watchWriteTimeout bounds each write: a stalled admin browser must
	// not hold the stream (and Node.Watch's subscription) forever.
	watchWriteTimeout = 10 * time.Second
)

func (h *operatorPages) watchPage(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	pattern := r.URL.Query().Get("pattern")
	pg := h.page(r, "Live watch "+p.ID)
	if _, err := path.Match(pattern, ""); err != nil {
		pg.Error = "The pattern is not a valid glob: " + err.Error()
		pattern = ""
	}
	if h.opts.Node == nil {
		pg.Error = "The live watch is not available."
	}
	h.render(w, r, http.StatusOK, views.WatchPage(pg, p.ID, pattern))
}

// watchEvent is what the watch script receives.
type watchEvent struct {
	Channel string          `json:"channel"`
	Offset  uint64          `json:"offset"`
	Data    json.RawMessage `json:"data"`
}

// watchStream is the admin-only SSE stream of a project's publications,
// filtered by a glob over the channel name (path.Match: "*" does not cross
// "/"; an empty pattern matches every channel).
func (h *operatorPages) watchStream(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	pattern := r.URL.Query().Get("pattern")
	if _, err := path.Match(pattern, ""); err != nil {
		http.Error(w, "bad pattern: "+err.Error(), http.StatusBadRequest)
		return
	}
	if h.opts.Node == nil {
		http.Error(w, "live watch not available", http.StatusServiceUnavailable)
		return
	}
	ctx := r.Context()
	pubs, err := h.opts.Node.Watch(ctx, p.ID)
	if err != nil {
		st, _, msg := classify(err)
		http.Error(w, msg, st)
		return
	}
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(b []byte) error {
		if err := rc.SetWriteDeadline(time.Now().Add(watchWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if write([]byte(": watching\n\n")) != nil {
		return
	}
	ping := time.NewTicker(watchPing)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ping.C:
			if write([]byte(": ping\n\n")) != nil {
				return
			}
		case pub, ok := <-pubs:
			if !ok {
				return
			}
			if pattern != "" {
				if m, _ := path.Match(pattern, pub.Channel); !m {
					continue
				}
			}
			// json.Marshal never emits a newline, so the event is one
			// data: line whatever the publication holds.
			b, err := json.Marshal(watchEvent{Channel: pub.Channel, Offset: pub.Offset, Data: pub.Data})
			if err != nil {
				h.log.Warn("encode watched publication", "err", err)
				continue
			}
			msg := make([]byte, 0, len(b)+20)
			msg = append(msg, "event: pub\ndata: "...)
			msg = append(msg, b...)
			msg = append(msg, "\n\n"...)
			if write(msg) != nil {
				return
			}
		}
	}
}
