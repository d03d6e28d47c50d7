package pubsub

import (
	"errors"
	"fmt"
)

// Protocol error codes (docs/protocol.md, Error codes).
const (
	CodeInternal         = 100
	CodeUnauthorized     = 101
	CodeUnknownChannel   = 102
	CodePermissionDenied = 103
	CodeUnknownMethod    = 104
	CodeLimitExceeded    = 106
	CodeBadRequest       = 107
	CodeNotAvailable     = 108
	CodeTokenExpired     = 109
	CodeTooManyRequests  = 110
	CodeUnrecoverable    = 111
	CodeUnavailable      = 112
)

// Disconnect codes (docs/protocol.md, Error codes).
const (
	DisconnectNormal   = 3000
	DisconnectShutdown = 3001
	DisconnectSlow     = 3002
	DisconnectRevoked  = 3003
	DisconnectExpired  = 3004
	// DisconnectEngineDown ends a stream that cannot be opened or kept
	// in step because the engine is unreachable; the client reconnects
	// with its last id and resumes once the engine is back.
	DisconnectEngineDown = 3005
)

// Error is a protocol error: one of the codes above and a message for people.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	// Kind refines Code where an edge must tell two failures with the
	// same code apart (a request body too large and a rate limit are both
	// 106); it is not part of the wire form.
	Kind Kind `json:"-"`
}

// Kind refines an error's code for the edge that answers it; the zero
// Kind adds nothing to the code.
type Kind uint8

// Error kinds.
const (
	// KindNone adds nothing to the code.
	KindNone Kind = iota
	// KindNotFound: what the request addresses (a project) does not exist.
	KindNotFound
	// KindTooLarge: a request body is over its size limit.
	KindTooLarge
	// KindTimeout: a request body did not arrive in time.
	KindTimeout
	// KindBadRequest: the request itself breaks a limit (too many
	// channels in one stream, too many commands in one request), as
	// opposed to a limit on what a client holds or sends over time.
	KindBadRequest
	// KindEngineDown: 112 because the engine cannot be reached (an SSE
	// stream then answers 200 with `disconnect` 3005 rather than 503).
	KindEngineDown
)

func (e *Error) Error() string { return fmt.Sprintf("%s (%d)", e.Message, e.Code) }

// Errorf returns a protocol error with the given code.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Common protocol errors.
var (
	ErrUnknownChannel   = &Error{Code: CodeUnknownChannel, Message: "unknown channel or namespace"}
	ErrPermissionDenied = &Error{Code: CodePermissionDenied, Message: "permission denied"}
	ErrNotAvailable     = &Error{Code: CodeNotAvailable, Message: "not available"}
	ErrUnavailable      = &Error{Code: CodeUnavailable, Message: "temporarily unavailable"}
	ErrInternal         = &Error{Code: CodeInternal, Message: "internal error"}
	// ErrEngineUnavailable is ErrUnavailable caused by an unreachable
	// engine (AsError of an error wrapping ErrEngineDown).
	ErrEngineUnavailable = &Error{Code: CodeUnavailable, Message: "temporarily unavailable", Kind: KindEngineDown}
)

// ErrEngineDown is wrapped by engines when their backend (Redis) cannot be
// reached; callers map it to code 112 and HTTP 503.
var ErrEngineDown = errors.New("engine unavailable")

// ErrClosed is returned when using a stream or hub that has been closed.
var ErrClosed = errors.New("closed")

// AsError maps any error to a protocol error: protocol errors pass through,
// engine outages become 112, the rest 100.
func AsError(err error) *Error {
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, ErrEngineDown) {
		return ErrEngineUnavailable
	}
	return ErrInternal
}

// Disconnect is a reason to end a stream, sent as the `disconnect` event.
type Disconnect struct {
	Code      int    `json:"code"`
	Reason    string `json:"reason"`
	Reconnect bool   `json:"reconnect"`
}

// Disconnect reasons used by the server.
var (
	DisconnectNormalReason   = &Disconnect{Code: DisconnectNormal, Reason: "normal", Reconnect: true}
	DisconnectShutdownReason = &Disconnect{Code: DisconnectShutdown, Reason: "server shutdown", Reconnect: true}
	DisconnectSlowReason     = &Disconnect{Code: DisconnectSlow, Reason: "slow consumer", Reconnect: true}
	DisconnectRevokedReason  = &Disconnect{Code: DisconnectRevoked, Reason: "session revoked", Reconnect: false}
	DisconnectExpiredReason  = &Disconnect{Code: DisconnectExpired, Reason: "token expired", Reconnect: true}
	// DisconnectEngineDownReason ends a stream while the engine is
	// unreachable.
	DisconnectEngineDownReason = &Disconnect{Code: DisconnectEngineDown, Reason: "engine unavailable", Reconnect: true}
)
