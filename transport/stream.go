package transport

import (
	"net/http"
	"net/url"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// streamRequest reads a stream request of either form of docs/protocol.md
// (Streams) from the query q of r: session + grants (the session may come
// from the cookie), or a connection token + channels authorized inline.
// since is the resume id ("" for none); lastEventID is the Last-Event-ID
// header (SSE only); a is r's access when decided already.
func (s *Server) streamRequest(r *http.Request, q url.Values, p *structure.Project, a access, transport, since, lastEventID string) (node.StreamRequest, *pubsub.Error) {
	req := node.StreamRequest{
		Project: p, Transport: transport, IP: s.clientIP(r), HTTPVersion: httpVersion(r), Start: time.Now(),
		Since: since, LastEventID: lastEventID,
	}
	if q.Has("grant") || q.Has("session") {
		req.GrantForm = true
		req.Session, req.Grants = q.Get("session"), q["grant"]
		if req.Session == "" {
			sess, perr := cookieSession(p, r, a)
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

// httpVersion names r's protocol for the http_version label.
func httpVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	}
	return "other"
}
