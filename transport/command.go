package transport

import (
	"net/http"

	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

type commandRequest struct {
	Session  string         `json:"session"`
	Commands []node.Command `json:"commands"`
}

// handleCommand serves POST /connection/{project}/command (docs/protocol.md, Commands).
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request, p *structure.Project, a access) {
	var req commandRequest
	if perr := decodeBody(r, s.opts.MaxBody, &req); perr != nil {
		writeError(w, perr)
		return
	}
	if req.Session == "" {
		sess, perr := cookieSession(p, r, a)
		if perr != nil {
			writeError(w, perr)
			return
		}
		req.Session = sess
	}
	ctx := r.Context()
	id, perr := s.node.Session(ctx, p, req.Session)
	if perr != nil {
		writeError(w, perr)
		return
	}
	replies, perr := s.node.Commands(ctx, id, req.Commands)
	if perr != nil {
		writeError(w, perr)
		return
	}
	for i := range req.Commands {
		if rr, ok := replies[i].Result.(*node.RefreshResult); ok && replies[i].Error == nil {
			setSessionCookie(w, r, p, a, rr.Session, rr.ExpiresAt())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"replies": replies})
}
