package web

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/views"
)

// historyLimit is how many publications the history lookup shows.
const historyLimit = 50

func (h *Handler) channelPage(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	c := views.Channel{ProjectID: p.ID, Channel: strings.TrimSpace(r.URL.Query().Get("channel"))}
	h.lookup(r, &c)
	h.render(w, r, http.StatusOK, views.ChannelPage(h.page(r, "Channel tools"), c))
}

// lookup fills in presence and history for c.Channel.
func (h *Handler) lookup(r *http.Request, c *views.Channel) {
	if c.Channel == "" {
		return
	}
	if h.opts.Node == nil {
		c.PresenceErr, c.HistoryErr = "Not available.", "Not available."
		return
	}
	pres, err := h.opts.Node.Presence(r.Context(), c.ProjectID, c.Channel)
	if err != nil {
		c.PresenceErr = pubsub.AsError(err).Message
	}
	c.Presence = presenceView(pres)
	pubs, pos, err := h.opts.Node.History(r.Context(), c.ProjectID, c.Channel, historyLimit)
	if err != nil {
		c.HistoryErr = pubsub.AsError(err).Message
		return
	}
	c.History, c.HistoryPos = historyView(pubs), positionView(pos)
}

// publish is the publish form: the same publication a backend would make
// through POST /api/publish.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request) {
	p, err := h.projectCopy(r)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	c := views.Channel{
		ProjectID: p.ID,
		Channel:   strings.TrimSpace(r.PostForm.Get("channel")),
		Data:      r.PostForm.Get("data"),
		Errors:    views.FieldErrors{},
	}
	if c.Channel == "" {
		c.Errors["channel"] = "is required"
	}
	if !json.Valid([]byte(c.Data)) {
		c.Errors["data"] = `must be JSON, e.g. {"text": "hi"} or "hi"`
	}
	status := http.StatusOK
	switch {
	case len(c.Errors) > 0:
		status = http.StatusBadRequest
	case h.opts.Node == nil:
		c.Errors[""] = "Publishing is not available."
		status = http.StatusServiceUnavailable
	default:
		pos, err := h.opts.Node.Publish(r.Context(), p.ID, c.Channel, json.RawMessage(c.Data))
		h.audit(r, "publish", p.ID, "channel", c.Channel, "ok", err == nil)
		if err != nil {
			st, _, msg := classify(err)
			if st == http.StatusInternalServerError {
				h.log.Error("admin publish", "project", p.ID, "err", err)
			}
			c.Errors["channel"] = msg
			status = st
		} else {
			c.Published = positionView(pos)
		}
	}
	h.lookup(r, &c)
	h.render(w, r, status, views.ChannelPage(h.page(r, "Channel tools"), c))
}
