package transport

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/gopool"
)

// Routes mounts the client endpoints and the server API (docs/protocol.md)
// on r. No timeout or compression middleware may wrap these routes:
// streams live for hours and flush event by event. Routes with a body get
// limitBody: a read deadline, a connection slot while it is read, and
// client.max_body.
func (s *Server) Routes(r chi.Router) {
	r.Use(s.routePolls)
	r.Route("/connection/{project}", func(r chi.Router) {
		r.Get("/sse", s.withProject(s.handleSSE))
		r.Get("/poll", s.withProject(s.handlePoll))
		r.With(s.limitBody).Post("/connect", s.withProject(s.handleConnect))
		r.With(s.limitBody).Post("/command", s.withProject(s.handleCommand))
		r.Options("/*", s.withProject(func(w http.ResponseWriter, r *http.Request, _ *structure.Project, _ access) {
			w.WriteHeader(http.StatusNoContent)
		}))
	})
	r.With(s.limitBody).Post("/api/{method}", s.handleAPI)
	s.pusherRoutes(r.With(s.limitBody))
	openAPIRoutes(r)
}

// GrowStacks is the first middleware of the router Routes is mounted on:
// an HTTP/1 SSE request grows its goroutine's stack in one step before
// routing, token checking and stream setup would three times deeper down.
func (s *Server) GrowStacks(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && !s.opts.NoHijack && strings.HasSuffix(r.URL.Path, "/sse") {
			gopool.GrowStack()
		}
		next.ServeHTTP(w, r)
	})
}

// routePolls serves a long-poller's GET …/poll ahead of the route tree (which keeps the route for escaped
// paths), its stack grown in one step near its top: the collector shrank it while the poll waited.
func (s *Server) routePolls(next http.Handler) http.Handler {
	poll := s.withProject(s.handlePoll)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if pollProject(r) == "" {
			next.ServeHTTP(w, r)
			return
		}
		gopool.GrowStack()
		poll(w, r)
	})
}

// pollProject returns the {project} of a GET /connection/{project}/poll with no escapes, or "".
func pollProject(r *http.Request) string {
	rest, ok := strings.CutPrefix(r.URL.Path, "/connection/")
	id, poll := strings.CutSuffix(rest, "/poll")
	if !ok || !poll || r.Method != http.MethodGet || r.URL.RawPath != "" || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// withProject resolves {project} (404 when unknown): the route's, or the
// path's for a poll routePolls serves. It applies the project's CORS
// policy (403 for an origin it does not allow, see originAccess) and
// calls h with the request's access, decided once.
func (s *Server) withProject(h func(http.ResponseWriter, *http.Request, *structure.Project, access)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Origin")
		p, perr := s.project(r.Context(), cmp.Or(chi.URLParam(r, "project"), pollProject(r)))
		if perr != nil {
			writeError(w, perr)
			return
		}
		a := originAccess(p, r)
		if !applyCORS(w, r, a) {
			return
		}
		h(w, r, p, a)
	}
}
