package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rotor-rt/rotor/pubsub"
)

// MaxTokenSize is the largest JWT accepted, in bytes. Tokens travel in
// request bodies and URLs; anything larger is refused before decoding.
const MaxTokenSize = 8 << 10

// errTokenExpired is returned for a valid token past its exp.
var errTokenExpired = &pubsub.Error{Code: pubsub.CodeTokenExpired, Message: "token expired"}

// unauthorized returns a 101 error with a message naming the problem.
func unauthorized(format string, args ...any) *pubsub.Error {
	return pubsub.Errorf(pubsub.CodeUnauthorized, format, args...)
}

// parseJWT verifies an HS256 token with secret at time now and decodes its
// claims into claims. Only HS256 is accepted: "none" and every other
// algorithm (RS256 with a public key as HMAC key, HS512, ...) are refused
// before the key is even looked at.
func parseJWT(token string, secret []byte, now time.Time, claims jwt.Claims) error {
	switch {
	case len(secret) == 0:
		return unauthorized("invalid token: the project has no secret")
	case token == "":
		return unauthorized("invalid token: empty")
	case len(token) > MaxTokenSize:
		return unauthorized("invalid token: longer than %d bytes", MaxTokenSize)
	}
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// WithValidMethods already refuses other algorithms; this check
		// keeps the key out of any other method's hands if that changes.
		if t.Method != jwt.SigningMethodHS256 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return secret, nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrTokenExpired):
		// Claims are only validated after the signature, so an expired
		// token is a genuine one: the client should refresh it.
		return errTokenExpired
	default:
		return unauthorized("invalid token: %v", err)
	}
}

// expiry returns the time of a NumericDate, or the zero time for none.
func expiry(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time
}

// numericDate converts a time to a claim, or nil for the zero time.
func numericDate(t time.Time) *jwt.NumericDate {
	if t.IsZero() {
		return nil
	}
	return jwt.NewNumericDate(t)
}

// objectOrEmpty checks that raw is absent, null or a JSON object, and
// returns nil for absent or null.
func objectOrEmpty(raw json.RawMessage) (json.RawMessage, bool) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil, true
	}
	if trimmed[0] != '{' || !json.Valid(trimmed) {
		return nil, false
	}
	return trimmed, true
}

// mint signs claims as an HS256 JWT.
func mint(secret []byte, claims jwt.Claims) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("mint token: empty secret")
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return s, nil
}
