package transport

import (
	"net/http"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/hooks"
)

type connectRequest struct {
	Token string `json:"token"`
}

type connectReply struct {
	Client  string                `json:"client"`
	User    string                `json:"user"`
	Session string                `json:"session"`
	Expires int64                 `json:"expires"`
	Ping    int                   `json:"ping"`
	Subs    map[string]*cmdResult `json:"subs,omitempty"`
}

// handleConnect serves POST /connection/{project}/connect (docs/protocol.md, Connect).
func (n *Node) handleConnect(w http.ResponseWriter, r *http.Request, p *admin.Project) {
	var req connectRequest
	if status, perr := decodeBody(r, n.opts.MaxBody, &req); perr != nil {
		writeError(w, status, perr)
		return
	}
	id, claims, perr := n.fromToken(p, req.Token)
	if perr != nil {
		writeError(w, http.StatusUnauthorized, perr)
		return
	}
	session, err := n.signSession(id)
	if err != nil {
		n.log.ErrorContext(r.Context(), "sign session", "err", err)
		writeError(w, http.StatusInternalServerError, pubsub.ErrInternal)
		return
	}
	reply := connectReply{
		Client: id.client, User: id.user, Session: session,
		Expires: id.expires.Unix(), Ping: int(n.opts.Ping / time.Second),
	}
	if len(claims.Channels) > 0 {
		cmds := make([]command, len(claims.Channels))
		for i, ch := range claims.Channels {
			cmds[i] = command{ID: uint64(i + 1), Method: "subscribe", Params: cmdParams{Channel: ch}}
		}
		replies := n.runCommands(r.Context(), id, cmds)
		reply.Subs = make(map[string]*cmdResult, len(replies))
		for i, rep := range replies {
			if rep.Error != nil {
				reply.Subs[claims.Channels[i]] = &cmdResult{Error: rep.Error}
			} else {
				reply.Subs[claims.Channels[i]] = rep.Result.(*cmdResult)
			}
		}
	}
	n.setSessionCookie(w, r, p, session, id.expires)
	n.emit(p, hooks.Event{Type: hooks.EventConnect, Client: id.client, User: id.user, Info: id.info})
	writeJSON(w, http.StatusOK, reply)
}

// setSessionCookie sets the session as an HttpOnly cookie scoped to the
// project's client endpoints (docs/protocol.md, Connect), for a request that may use
// credentials only: a page allowed by "*" alone must not plant its session
// in the cookie that the user's own pages may rely on. SameSite=Strict
// keeps every other site's requests from carrying it; cookieSession keeps
// other origins of the same site from using it.
func (n *Node) setSessionCookie(w http.ResponseWriter, r *http.Request, p *admin.Project, session string, expires time.Time) {
	if originAccess(p, r) != accessCredentialed {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: session, Path: "/connection/" + p.ID,
		Expires: expires, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}
