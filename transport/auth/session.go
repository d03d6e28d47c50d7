package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// maxSessionSize bounds a session string before any work is done on it:
// room for an 8 KiB token's info, base64-encoded, with ids and times.
const maxSessionSize = 16 << 10

// Session is what `connect` gives a client (docs/security.md): proof, verifiable by
// any node, of who the client is until Expires.
type Session struct {
	Project string
	Client  string
	User    string
	// Info is the public info from the connection token, or nil.
	Info json.RawMessage
	// Issued lets revocations refuse sessions issued before a disconnect
	// API call; it keeps millisecond precision.
	Issued time.Time
	// Expires is required: revocation marks are kept until it.
	Expires time.Time
}

// sessionWire is the signed payload. Short keys keep cookies and URLs
// small; times are unix milliseconds.
type sessionWire struct {
	Project string          `json:"p"`
	Client  string          `json:"c"`
	User    string          `json:"u,omitempty"`
	Info    json.RawMessage `json:"i,omitempty"`
	Issued  int64           `json:"iat"`
	Expires int64           `json:"exp"`
}

// SignSession returns s as a compact string signed with a key derived from
// the project secret. The string contains only [A-Za-z0-9_.-], so it fits in
// a cookie, a header and a URL unescaped.
func SignSession(secret []byte, s Session) (string, error) {
	switch {
	case len(secret) == 0:
		return "", errors.New("sign session: empty secret")
	case s.Project == "" || s.Client == "":
		return "", errors.New("sign session: project and client are required")
	case s.Expires.IsZero():
		return "", errors.New("sign session: expiry is required")
	case len(s.Info) > 0 && !json.Valid(s.Info):
		return "", errors.New("sign session: info is not valid JSON")
	}
	out, err := sealJSON(deriveKey(secret, sessionLabel), sessionWire{
		Project: s.Project,
		Client:  s.Client,
		User:    s.User,
		Info:    s.Info,
		Issued:  s.Issued.UnixMilli(),
		Expires: s.Expires.UnixMilli(),
	})
	if err != nil {
		return "", fmt.Errorf("sign session: %w", err)
	}
	if len(out) > maxSessionSize {
		return "", fmt.Errorf("sign session: longer than %d bytes", maxSessionSize)
	}
	return out, nil
}

// VerifySession checks a session string for project at time now. A forged,
// truncated or foreign session is a 101 error, an expired one 109. It does
// not check revocations: that needs the engine.
func VerifySession(secret []byte, project string, s string, now time.Time) (*Session, error) {
	if len(secret) == 0 {
		return nil, unauthorized("invalid session: the project has no secret")
	}
	var w sessionWire
	if problem := openJSON(deriveKey(secret, sessionLabel), s, maxSessionSize, &w); problem != "" {
		return nil, unauthorized("invalid session: %s", problem)
	}
	// Projects may share a secret (copied configs); the project field
	// keeps a session from crossing between them.
	if w.Project != project {
		return nil, unauthorized("invalid session: issued for another project")
	}
	if w.Client == "" {
		return nil, unauthorized("invalid session: no client")
	}
	if now.UnixMilli() >= w.Expires {
		return nil, &pubsub.Error{Code: pubsub.CodeTokenExpired, Message: "session expired"}
	}
	return &Session{
		Project: w.Project,
		Client:  w.Client,
		User:    w.User,
		Info:    w.Info,
		Issued:  time.UnixMilli(w.Issued),
		Expires: time.UnixMilli(w.Expires),
	}, nil
}
