package transport

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
)

// Routes mounts the client endpoints and the server API (docs/protocol.md)
// on r. No timeout or compression middleware may wrap these routes:
// streams live for hours and flush event by event. Routes with a body get
// limitBody: a read deadline, a connection slot while it is read, and
// client.max_body.
func (n *Node) Routes(r chi.Router) {
	r.Route("/connection/{project}", func(r chi.Router) {
		r.Get("/sse", n.withProject(n.handleSSE))
		r.Get("/poll", n.withProject(n.handlePoll))
		r.With(n.limitBody).Post("/connect", n.observeConnect(n.withProject(n.handleConnect)))
		r.With(n.limitBody).Post("/command", n.withProject(n.handleCommand))
		r.Options("/*", n.withProject(func(w http.ResponseWriter, r *http.Request, _ *admin.Project) {
			w.WriteHeader(http.StatusNoContent)
		}))
	})
	r.With(n.limitBody).Post("/api/{method}", n.observeAPI(n.handleAPI))
	n.pusherRoutes(r.With(n.limitBody))
	openAPIRoutes(r)
}

// withProject resolves {project} (404 when unknown), applies the
// project's CORS policy (403 for an origin it does not allow, see
// originAccess) and calls h.
func (n *Node) withProject(h func(http.ResponseWriter, *http.Request, *admin.Project)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		p, status, perr := n.lookupProject(r.Context(), chi.URLParam(r, "project"))
		if perr != nil {
			writeError(w, status, perr)
			return
		}
		if !applyCORS(w, r, originAccess(p, r)) {
			return
		}
		h(w, r, p)
	}
}
