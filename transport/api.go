package transport

import (
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
)

// handleAPI serves POST /api/{method} (docs/protocol.md, Server API) and
// reports each request to the node's metrics and charts (method, status,
// latency, the protocol error in the body, the project it acted on).
func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	start, method := time.Now(), chi.URLParam(r, "method")
	var status, code int
	var project string
	defer func() { s.node.Ops().APIRequest(method, status, code, project, time.Since(start)) }()
	status, code, project = s.serveAPI(w, r, method)
}

// serveAPI answers one server API request. A method's own failure is
// answered 200 with the error in the body, as in a batch, except 112: a
// backend retries on 503. It returns the status answered, the protocol
// error code in the body (0 for none) and the project acted on.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request, method string) (status, code int, project string) {
	if !node.IsAPIMethod(method) {
		return writeError(w, pubsub.Errorf(pubsub.CodeUnknownMethod, "unknown method %q", method)), 0, ""
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "apikey ")
	if !ok || key == "" {
		return writeError(w, pubsub.Errorf(pubsub.CodeUnauthorized, "missing Authorization: apikey <key>")), 0, ""
	}
	var params node.APIParams
	if perr := decodeBody(r, s.opts.MaxBody, &params); perr != nil {
		return writeError(w, perr), 0, ""
	}
	ctx := r.Context()
	p, perr := s.node.APIProject(ctx, key, params.Project)
	if p != nil {
		project = p.ID
	}
	if perr != nil {
		return writeError(w, perr), 0, project
	}
	res, perr := s.node.API(ctx, p, method, &params)
	switch {
	case perr == nil:
		return writeJSON(w, http.StatusOK, node.APIReply{Result: res}), 0, project
	case statusOf(perr) == http.StatusServiceUnavailable:
		return writeJSON(w, http.StatusServiceUnavailable, node.APIReply{Error: perr}), perr.Code, project
	default:
		return writeJSON(w, http.StatusOK, node.APIReply{Error: perr}), perr.Code, project
	}
}
