// Package auth checks and issues every credential described in docs/security.md: connection and
// subscription tokens (JWT HS256 minted by backends with the project
// secret), sessions and grants (compact strings signed by the server so any
// node can verify them without shared state), and the body signatures of
// hooks and auth_url calls.
//
// Every failure is a *pubsub.Error: 109 when the credential is well formed,
// correctly signed and merely expired (the client should refresh), 101 for
// anything else. Nothing taken from a credential is trusted before its
// signature has been checked, and every comparison of secret material is
// constant-time. The formats are described in docs/security.md.
package auth
