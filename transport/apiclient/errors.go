package apiclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Protocol error codes a caller may branch on (docs/protocol.md §8).
const (
	CodeInternal        = 100
	CodeUnauthorized    = 101
	CodeUnknownChannel  = 102
	CodePermission      = 103
	CodeUnknownMethod   = 104
	CodeLimitExceeded   = 106
	CodeBadRequest      = 107
	CodeNotAvailable    = 108
	CodeTooManyRequests = 110
	CodeUnavailable     = 112
)

// Error is an error answered by the server: its protocol code and message,
// and the HTTP status it came with (200 for an error inside a batch or
// broadcast result).
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Status  int    `json:"-"`
}

func (e *Error) Error() string {
	return fmt.Sprintf("rotor: %s (code %d, HTTP %d)", e.Message, e.Code, e.Status)
}

// Temporary reports whether the same call may succeed later: the engine
// was unavailable (112), the server or a proxy failed (5xx), or the rate
// limit was hit (429). Such a publish may nonetheless have been applied;
// repeat it with the same idempotency key.
func (e *Error) Temporary() bool {
	return e.Code == CodeUnavailable || e.Code == CodeTooManyRequests || e.Status >= 500
}

// codeOfStatus gives a protocol code to an answer that is not Rotor's
// envelope (a proxy's 502 page, say).
func codeOfStatus(status int) int {
	switch {
	case status == http.StatusTooManyRequests:
		return CodeTooManyRequests
	case status == http.StatusServiceUnavailable, status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		return CodeUnavailable
	case status == http.StatusUnauthorized:
		return CodeUnauthorized
	case status == http.StatusNotFound:
		return CodeUnknownMethod
	case status >= 400 && status < 500:
		return CodeBadRequest
	}
	return CodeInternal
}

// transportError is a request that got no answer: the connection failed
// or the attempt timed out. The server may have acted on it.
type transportError struct {
	method string
	err    error
}

func (e *transportError) Error() string { return fmt.Sprintf("apiclient %s: %v", e.method, e.err) }
func (e *transportError) Unwrap() error { return e.err }

// temporary reports whether err may go away on a retry.
func temporary(err error) bool {
	var ae *Error
	if errors.As(err, &ae) {
		return ae.Temporary()
	}
	var te *transportError
	if errors.As(err, &te) {
		// The attempt's own timeout is temporary; the caller's
		// cancellation is checked by the caller.
		return !errors.Is(err, context.Canceled)
	}
	return false
}
