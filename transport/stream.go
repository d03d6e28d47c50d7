package transport

import (
	"net/http"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// streamRequest reads a stream request of either form of docs/protocol.md
// (Streams) from the query: session + grants (the session may come from
// the cookie), or a connection token + channels authorized inline. since
// is the resume id ("" for none); lastEventID is the Last-Event-ID header
// (SSE only).
func (s *Server) streamRequest(r *http.Request, p *structure.Project, transport, since, lastEventID string) (node.StreamRequest, *pubsub.Error) {
	q := r.URL.Query()
	req := node.StreamRequest{
		Project: p, Transport: transport, IP: s.clientIP(r), HTTPVersion: httpVersion(r), Start: time.Now(),
		Since: since, LastEventID: lastEventID,
	}
	if q.Has("grant") || q.Has("session") {
		req.GrantForm = true
		req.Session, req.Grants = q.Get("session"), q["grant"]
		if req.Session == "" {
			sess, perr := cookieSession(p, r)
			if perr != nil {
				return req, perr
			}
			req.Session = sess
		}
		return req, nil
	}
	req.Token, req.Channels, req.SubTokens = q.Get("token"), q["channel"], q["sub_token"]
	return req, nil
}
