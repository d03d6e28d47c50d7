// Package hooks calls the project's own HTTP endpoints (docs/protocol.md,
// Private channels and Hooks; signatures in docs/security.md):
// auth_url to authorize private channels, publish_hook_url before a
// client's publication, and events_hook_url after the fact. Each hook is a
// small interface, so that those who embed the server can answer in Go;
// the HTTP implementations here send JSON signed with the project secret:
// X-Rotor-Timestamp (Unix seconds) and X-Rotor-Signature over
// "<timestamp>.<body>" (auth.SignTimestamped), so a replayed call can be
// refused.
//
// Failure policy (docs/protocol.md, Private channels and Hooks): authorization denies, the publish hook
// fails closed (the caller refuses with 100), events are retried with
// backoff and then dropped.
package hooks
