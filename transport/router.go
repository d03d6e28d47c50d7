package transport

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
)

// Routes mounts the client endpoints (SPEC §3) and the server API (SPEC
// §6) on r. No timeout or compression middleware may wrap these routes:
// streams live for hours and flush event by event. Routes with a body get
// limitBody: a read deadline, a connection slot while it is read, and
// client.max_body.
func (n *Node) Routes(r chi.Router) {
	r.Route("/connection/{project}", func(r chi.Router) {
		r.Get("/sse", n.withProject(n.handleSSE))
		r.Get("/poll", n.withProject(n.handlePoll))
		r.With(n.limitBody).Post("/connect", n.withProject(n.handleConnect))
		r.With(n.limitBody).Post("/command", n.withProject(n.handleCommand))
		r.Options("/*", n.withProject(func(w http.ResponseWriter, r *http.Request, _ *admin.Project) {
			w.WriteHeader(http.StatusNoContent)
		}))
	})
	r.With(n.limitBody).Post("/api/{method}", n.handleAPI)
}

// withProject resolves {project} (404 when unknown), applies the
// project's CORS policy (403 for an origin it does not allow) and calls h.
func (n *Node) withProject(h func(http.ResponseWriter, *http.Request, *admin.Project)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		p, status, perr := n.lookupProject(r.Context(), chi.URLParam(r, "project"))
		if perr != nil {
			writeError(w, status, perr)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" {
			if !originAllowed(p, origin, r) {
				writeError(w, http.StatusForbidden, pubsub.Errorf(pubsub.CodePermissionDenied, "origin %q not allowed", origin))
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "GET, POST")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Last-Event-ID")
				h.Set("Access-Control-Max-Age", "600")
			}
		}
		h(w, r, p)
	}
}

// originAllowed applies allowed_origins (SPEC §1): empty means the same
// origin only, "*" any origin, otherwise an exact match of scheme://host.
func originAllowed(p *admin.Project, origin string, r *http.Request) bool {
	if slices.Contains(p.AllowedOrigins, "*") || slices.Contains(p.AllowedOrigins, origin) {
		return true
	}
	if len(p.AllowedOrigins) > 0 {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}
