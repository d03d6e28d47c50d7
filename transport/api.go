package transport

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
)

// handleAPI serves POST /api/{method} (docs/protocol.md, Server API).
// A method's own failure is answered 200 with the error in the body, as
// in a batch, except 112: a backend retries on 503.
func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request) {
	method := chi.URLParam(r, "method")
	if !node.IsAPIMethod(method) {
		writeError(w, pubsub.Errorf(pubsub.CodeUnknownMethod, "unknown method %q", method))
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "apikey ")
	if !ok || key == "" {
		writeError(w, pubsub.Errorf(pubsub.CodeUnauthorized, "missing Authorization: apikey <key>"))
		return
	}
	var params node.APIParams
	if perr := decodeBody(r, s.opts.MaxBody, &params); perr != nil {
		writeError(w, perr)
		return
	}
	ctx := r.Context()
	p, perr := s.node.APIProject(ctx, key, params.Project)
	obs := observedAPI(ctx)
	if p != nil {
		obs.project = p.ID
	}
	if perr != nil {
		writeError(w, perr)
		return
	}
	res, perr := s.node.API(ctx, p, method, &params)
	if perr != nil {
		obs.code = perr.Code
	}
	switch {
	case perr == nil:
		writeJSON(w, http.StatusOK, node.APIReply{Result: res})
	case statusOf(perr) == http.StatusServiceUnavailable:
		writeJSON(w, http.StatusServiceUnavailable, node.APIReply{Error: perr})
	default:
		writeJSON(w, http.StatusOK, node.APIReply{Error: perr})
	}
}
