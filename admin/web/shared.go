package web

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// shared is what every part of the Handler needs: the options, the
// logger, the sessions (pages show whether one is logged in) and the
// helpers that render pages and reach the store and the node.
type shared struct {
	opts     Options
	log      *slog.Logger
	sessions *sessions
}

// writer returns the store's write side, or nil when it is read-only.
func (h *shared) writer() Writer {
	if h.opts.Store.ReadOnly() {
		return nil
	}
	w, _ := h.opts.Store.(Writer)
	return w
}

func (h *shared) changed() {
	if h.opts.OnChange != nil {
		h.opts.OnChange()
	}
}

// projectCopy returns a copy of the stored project that may be changed.
func (h *shared) projectCopy(r *http.Request) (*structure.Project, error) {
	p, err := h.opts.Store.Project(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		return nil, err
	}
	c := p.Clone()
	return &c, nil
}

func (h *shared) loggedIn(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	_, ok := h.sessions.check(c.Value)
	return ok
}

func (h *shared) operator() Operator {
	op, _ := h.opts.Node.(Operator)
	return op
}

// sessionID is a non-secret name of the admin's session for the logs: a
// hash of the session's random id, which cannot be turned back into a
// cookie.
func (h *shared) sessionID(r *http.Request) string {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	id, ok := h.sessions.check(c.Value)
	if !ok {
		return ""
	}
	sum := sha256.Sum256([]byte("rotor admin session " + id))
	return hex.EncodeToString(sum[:6])
}

// audit logs an operator action at INFO with who did it.
func (h *shared) audit(r *http.Request, action, project string, attrs ...any) {
	h.log.InfoContext(r.Context(), "admin action",
		append([]any{"action", action, "project", project, "session", h.sessionID(r)}, attrs...)...)
}
