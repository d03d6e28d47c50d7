package apiclient

import "github.com/rotor-rt/rotor/transport/auth"

// ConnectionClaims are what a connection token says: the user, an expiry,
// public info, and channels to subscribe at connect.
type ConnectionClaims = auth.ConnectionClaims

// SubscriptionClaims are what a subscription token says: the user, the
// private channel it grants, an expiry and channel info.
type SubscriptionClaims = auth.SubscriptionClaims

// ConnectionToken mints a connection token (JWT HS256) for a client of
// the project whose secret is given.
func ConnectionToken(secret []byte, c ConnectionClaims) (string, error) {
	return auth.MintConnectionToken(secret, c)
}

// SubscriptionToken mints a subscription token (JWT HS256) that lets a
// client subscribe to one private channel.
func SubscriptionToken(secret []byte, c SubscriptionClaims) (string, error) {
	return auth.MintSubscriptionToken(secret, c)
}
