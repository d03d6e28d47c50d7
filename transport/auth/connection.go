package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ConnectionClaims are the claims of a connection token (docs/security.md).
type ConnectionClaims struct {
	// User is the `sub` claim, required and non-empty.
	User string
	// Expires is the `exp` claim; the zero time means the token never
	// expires.
	Expires time.Time
	// Info is the public `info` object, or nil.
	Info json.RawMessage
	// Channels are the channels the server subscribes the client to at
	// connect, or nil.
	Channels []string
}

// connectionJWT is the wire form of a connection token's claims. Unknown
// claims (iat, iss, aud, ...) are ignored, as backends' JWT libraries add
// them freely.
type connectionJWT struct {
	jwt.RegisteredClaims
	Info     json.RawMessage `json:"info,omitempty"`
	Channels []string        `json:"channels,omitempty"`
	// Channel is never set by a connection token: its presence means a
	// subscription token is being replayed as one.
	Channel *json.RawMessage `json:"channel,omitempty"`
}

// ParseConnectionToken verifies a connection token against the project
// secret at time now. An expired token is a 109 error; every other problem
// is a 101 error whose message names it.
func ParseConnectionToken(token string, secret []byte, now time.Time) (*ConnectionClaims, error) {
	var c connectionJWT
	if err := parseJWT(token, secret, now, &c); err != nil {
		return nil, err
	}
	if c.Subject == "" {
		return nil, unauthorized("invalid token: sub claim missing or empty")
	}
	if c.Channel != nil {
		return nil, unauthorized("invalid token: a subscription token (channel claim) cannot be used to connect")
	}
	info, ok := objectOrEmpty(c.Info)
	if !ok {
		return nil, unauthorized("invalid token: info claim is not a JSON object")
	}
	return &ConnectionClaims{
		User:     c.Subject,
		Expires:  expiry(c.ExpiresAt),
		Info:     info,
		Channels: c.Channels,
	}, nil
}

// MintConnectionToken signs c as a connection token with the project
// secret, for tests and `rotor token`.
func MintConnectionToken(secret []byte, c ConnectionClaims) (string, error) {
	if c.User == "" {
		return "", errors.New("mint connection token: empty user")
	}
	info, ok := objectOrEmpty(c.Info)
	if !ok {
		return "", fmt.Errorf("mint connection token: info is not a JSON object")
	}
	return mint(secret, connectionJWT{
		RegisteredClaims: jwt.RegisteredClaims{Subject: c.User, ExpiresAt: numericDate(c.Expires)},
		Info:             info,
		Channels:         c.Channels,
	})
}
