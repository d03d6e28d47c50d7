package transport

import (
	"net/http"
	"time"

	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

type connectRequest struct {
	Token string `json:"token"`
}

type connectReply struct {
	Client  string                           `json:"client"`
	User    string                           `json:"user"`
	Session string                           `json:"session"`
	Expires int64                            `json:"expires"`
	Ping    int                              `json:"ping"`
	Subs    map[string]*node.SubscribeResult `json:"subs,omitempty"`
}

// handleConnect serves POST /connection/{project}/connect (docs/protocol.md, Connect).
func (s *Server) handleConnect(w http.ResponseWriter, r *http.Request, p *structure.Project, a access) {
	var req connectRequest
	if perr := decodeBody(r, s.opts.MaxBody, &req); perr != nil {
		writeError(w, perr)
		return
	}
	c, perr := s.node.Connect(r.Context(), p, req.Token)
	if perr != nil {
		writeError(w, perr)
		return
	}
	expires := c.ID.Expires()
	setSessionCookie(w, r, p, a, c.Session, expires)
	writeJSON(w, http.StatusOK, connectReply{
		Client: c.ID.Client(), User: c.ID.User(), Session: c.Session,
		Expires: expires.Unix(), Ping: int(s.opts.Ping / time.Second), Subs: c.Subs,
	})
}

// sessionCookie is the cookie `connect` sets (docs/protocol.md, Connect).
const sessionCookie = "rotor_session"

// setSessionCookie sets the session as an HttpOnly cookie scoped to the
// project's client endpoints (docs/protocol.md, Connect), for a request that may use
// credentials only: a page allowed by "*" alone must not plant its session
// in the cookie that the user's own pages may rely on. SameSite=Strict
// keeps every other site's requests from carrying it; cookieSession keeps
// other origins of the same site from using it.
func setSessionCookie(w http.ResponseWriter, r *http.Request, p *structure.Project, a access, session string, expires time.Time) {
	if a != accessCredentialed {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: session, Path: "/connection/" + p.ID,
		Expires: expires, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}
