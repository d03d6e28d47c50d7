// Package apiclient is a Go client for Rotor's server API (POST /api/*):
// typed parameters and results for every method, errors as *Error with the
// protocol code and HTTP status, and retries that are safe to make.
//
// Publishes (Publish, Broadcast, and publishes inside Batch) always carry
// an idempotency key — the caller's, or a random one generated once per
// call — so a retry after a 112, a 5xx or a timeout can never publish
// twice: the server answers the first attempt's result. (With
// Options.MaxAttempts 1 nothing is retried and no key is made.) Reads and
// history_remove are retried as they are; Unsubscribe and Disconnect are
// never retried, since a repeat would revoke what was issued in between.
//
// The package also mints connection and subscription tokens for a
// project's clients and verifies the signatures of Rotor's webhook calls.
// It depends only on the standard library and transport/auth, so backends
// can use it without the server.
package apiclient
