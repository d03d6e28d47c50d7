package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SubscriptionClaims are the claims of a subscription token (docs/security.md), the
// alternative to auth_url for private channels.
type SubscriptionClaims struct {
	// User is the `sub` claim; the caller checks it equals the
	// connection's user. It may be empty for an anonymous connection.
	User string
	// Channel is the `channel` claim, required.
	Channel string
	// Expires is the `exp` claim; the zero time means none.
	Expires time.Time
	// Info is the channel info (`info` object, becoming chan_info), or nil.
	Info json.RawMessage
}

type subscriptionJWT struct {
	jwt.RegisteredClaims
	Channel string          `json:"channel"`
	Info    json.RawMessage `json:"info,omitempty"`
}

// ParseSubscriptionToken verifies a subscription token against the project
// secret at time now: 109 when expired, 101 otherwise.
func ParseSubscriptionToken(token string, secret []byte, now time.Time) (*SubscriptionClaims, error) {
	var c subscriptionJWT
	if err := parseJWT(token, secret, now, &c); err != nil {
		return nil, err
	}
	if c.Channel == "" {
		return nil, unauthorized("invalid subscription token: channel claim missing or empty")
	}
	info, ok := objectOrEmpty(c.Info)
	if !ok {
		return nil, unauthorized("invalid subscription token: info claim is not a JSON object")
	}
	return &SubscriptionClaims{
		User:    c.Subject,
		Channel: c.Channel,
		Expires: expiry(c.ExpiresAt),
		Info:    info,
	}, nil
}

// MintSubscriptionToken signs c as a subscription token with the project
// secret, for tests and `rotor token --channel`.
func MintSubscriptionToken(secret []byte, c SubscriptionClaims) (string, error) {
	if c.Channel == "" {
		return "", errors.New("mint subscription token: empty channel")
	}
	info, ok := objectOrEmpty(c.Info)
	if !ok {
		return "", fmt.Errorf("mint subscription token: info is not a JSON object")
	}
	return mint(secret, subscriptionJWT{
		RegisteredClaims: jwt.RegisteredClaims{Subject: c.User, ExpiresAt: numericDate(c.Expires)},
		Channel:          c.Channel,
		Info:             info,
	})
}
