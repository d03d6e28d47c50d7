package transport

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/rotor-rt/rotor/pubsub"
)

// errorBody is the body of every error answered with an HTTP status
// (docs/protocol.md: `{"error": {"code", "message"}}`).
type errorBody struct {
	Error *pubsub.Error `json:"error"`
}

// writeJSON answers v as JSON that no cache may keep (docs/protocol.md);
// a 503 says when to retry. It returns the status answered.
func writeJSON(w http.ResponseWriter, status int, v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: pubsub.ErrInternal})
	}
	// Shared values, as Header.Set would allocate each: nothing writes
	// into a header's values, and adding one copies (cap == len).
	h := w.Header()
	h["Content-Type"], h["Cache-Control"] = jsonContentType, noStore
	if status == http.StatusServiceUnavailable {
		// Worth retrying: say when, as a browser's reconnect delay would.
		h.Set("Retry-After", retryAfter)
	}
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
	return status
}

var jsonContentType, noStore = []string{"application/json; charset=utf-8"}, []string{"no-store"}

// writeError answers a protocol error with its HTTP status, and returns
// that status.
func writeError(w http.ResponseWriter, e *pubsub.Error) int {
	return writeJSON(w, statusOf(e), errorBody{Error: e})
}

// retryAfter is the Retry-After of a 503, in seconds: the SSE retry
// advice.
var retryAfter = strconv.Itoa(sseRetry / 1000)

// errTooLarge marks a body over the configured limit (HTTP 413).
var errTooLarge = &pubsub.Error{Code: pubsub.CodeLimitExceeded, Message: "request body too large", Kind: pubsub.KindTooLarge}

// readBody reads a JSON body of at most limit bytes: guardBody's bound
// when it is as tight, else one of its own.
func readBody(r *http.Request, limit int64) ([]byte, *pubsub.Error) {
	body := r.Body
	if g, ok := body.(*guardedBody); !ok || g.limit <= 0 || g.limit > limit {
		body = http.MaxBytesReader(nil, body, limit)
	}
	data, err := readAll(body, r.ContentLength, limit)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, errTooLarge
		}
		if errors.Is(err, errBodyTimeout) {
			return nil, &pubsub.Error{Code: pubsub.CodeBadRequest, Message: "request body not received in time", Kind: pubsub.KindTimeout}
		}
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "cannot read body: %v", err)
	}
	return data, nil
}

// readAll reads r to its end into one buffer sized by the request's
// Content-Length when it gives one within limit: io.ReadAll would start
// at 512 bytes and grow.
func readAll(r io.Reader, contentLength, limit int64) ([]byte, error) {
	if contentLength <= 0 || contentLength > limit {
		return io.ReadAll(r)
	}
	// One byte more than announced, so that the end is seen in the same
	// read as the last byte.
	b := make([]byte, 0, contentLength+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// decodeBody reads and decodes a JSON object body into v.
func decodeBody(r *http.Request, limit int64, v any) *pubsub.Error {
	body, perr := readBody(r, limit)
	if perr != nil {
		return perr
	}
	// json.Unmarshal refuses trailing data after the value.
	if err := json.Unmarshal(body, v); err != nil {
		return pubsub.Errorf(pubsub.CodeBadRequest, "malformed JSON body: %v", err)
	}
	return nil
}

// statusOf is the one mapping of protocol errors to HTTP statuses, for
// the answers that carry an error in their status (every endpoint but the
// results of /command and of server API methods, which carry theirs in
// the body). An error's Kind, where set, refines its code.
func statusOf(e *pubsub.Error) int {
	switch e.Kind {
	case pubsub.KindNotFound:
		return http.StatusNotFound
	case pubsub.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case pubsub.KindTimeout:
		return http.StatusRequestTimeout
	case pubsub.KindBadRequest:
		return http.StatusBadRequest
	}
	switch e.Code {
	case pubsub.CodeUnknownMethod:
		return http.StatusNotFound
	case pubsub.CodeUnauthorized, pubsub.CodeTokenExpired:
		return http.StatusUnauthorized
	case pubsub.CodePermissionDenied, pubsub.CodeUnknownChannel:
		return http.StatusForbidden
	case pubsub.CodeBadRequest, pubsub.CodeUnrecoverable:
		return http.StatusBadRequest
	case pubsub.CodeTooManyRequests:
		return http.StatusTooManyRequests
	case pubsub.CodeUnavailable:
		return http.StatusServiceUnavailable
	case pubsub.CodeLimitExceeded:
		return http.StatusTooManyRequests
	default:
		return http.StatusInternalServerError
	}
}
