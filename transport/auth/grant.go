package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// MaxGrantChanInfo is the largest channel info a grant may carry, in bytes:
// grants travel in stream and poll URLs.
const MaxGrantChanInfo = 1 << 10

// maxGrantSize bounds a grant string before any work is done on it.
const maxGrantSize = 4 << 10

// Grant is the proof that a client was allowed into a channel (docs/security.md),
// returned by `subscribe` and presented to streams and polls, so any node
// can serve the client without asking the backend again.
type Grant struct {
	Project string
	Channel string
	Client  string
	User    string
	// ChanInfo is the channel info from the auth answer or subscription
	// token, or nil; at most MaxGrantChanInfo bytes.
	ChanInfo json.RawMessage
	// Issued lets an `unsubscribe` API call refuse grants issued before
	// it (docs/protocol.md, Server API); zero means unknown.
	Issued time.Time
	// Expires is required; callers use the session's expiry.
	Expires time.Time
}

type grantWire struct {
	Project  string          `json:"p"`
	Channel  string          `json:"ch"`
	Client   string          `json:"c"`
	User     string          `json:"u,omitempty"`
	ChanInfo json.RawMessage `json:"ci,omitempty"`
	Issued   int64           `json:"iat,omitempty"`
	Expires  int64           `json:"exp"`
}

// SignGrant returns g as a compact string signed with a key derived from the
// project secret, distinct from the session key.
func SignGrant(secret []byte, g Grant) (string, error) {
	switch {
	case len(secret) == 0:
		return "", errors.New("sign grant: empty secret")
	case g.Project == "" || g.Channel == "" || g.Client == "":
		return "", errors.New("sign grant: project, channel and client are required")
	case g.Expires.IsZero():
		return "", errors.New("sign grant: expiry is required")
	case len(g.ChanInfo) > MaxGrantChanInfo:
		return "", fmt.Errorf("sign grant: channel info longer than %d bytes", MaxGrantChanInfo)
	case len(g.ChanInfo) > 0 && !json.Valid(g.ChanInfo):
		return "", errors.New("sign grant: channel info is not valid JSON")
	}
	out, err := sealJSON(deriveKey(secret, grantLabel), grantWire{
		Project:  g.Project,
		Channel:  g.Channel,
		Client:   g.Client,
		User:     g.User,
		ChanInfo: g.ChanInfo,
		Issued:   unixMilliOrZero(g.Issued),
		Expires:  g.Expires.UnixMilli(),
	})
	if err != nil {
		return "", fmt.Errorf("sign grant: %w", err)
	}
	return out, nil
}

// VerifyGrant checks a grant string for project and the session's client at
// time now. A forged grant, or one for another project or client, is a 101
// error; an expired one 109. The caller checks the channel it names.
func VerifyGrant(secret []byte, project, client string, s string, now time.Time) (*Grant, error) {
	if len(secret) == 0 {
		return nil, unauthorized("invalid grant: the project has no secret")
	}
	var w grantWire
	if problem := openJSON(deriveKey(secret, grantLabel), s, maxGrantSize, &w); problem != "" {
		return nil, unauthorized("invalid grant: %s", problem)
	}
	switch {
	case w.Project != project:
		return nil, unauthorized("invalid grant: issued for another project")
	case w.Client != client:
		return nil, unauthorized("invalid grant: issued to another client")
	case w.Channel == "":
		return nil, unauthorized("invalid grant: no channel")
	case now.UnixMilli() >= w.Expires:
		return nil, &pubsub.Error{Code: pubsub.CodeTokenExpired, Message: "grant expired"}
	}
	return &Grant{
		Project:  w.Project,
		Channel:  w.Channel,
		Client:   w.Client,
		User:     w.User,
		ChanInfo: w.ChanInfo,
		Issued:   timeOrZero(w.Issued),
		Expires:  time.UnixMilli(w.Expires),
	}, nil
}

func unixMilliOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func timeOrZero(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}
