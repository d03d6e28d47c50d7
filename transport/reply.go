package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/rotor-rt/rotor/pubsub"
)

// errorBody is the body of every error answered with an HTTP status
// (docs/protocol.md: `{"error": {"code", "message"}}`).
type errorBody struct {
	Error *pubsub.Error `json:"error"`
}

// writeJSON answers v as JSON that no cache may keep (docs/protocol.md).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: pubsub.ErrInternal})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError answers a protocol error with an HTTP status.
func writeError(w http.ResponseWriter, status int, e *pubsub.Error) {
	writeJSON(w, status, errorBody{Error: e})
}

// errTooLarge marks a body over the configured limit (HTTP 413).
var errTooLarge = &pubsub.Error{Code: pubsub.CodeLimitExceeded, Message: "request body too large"}

// readBody reads a JSON body of at most limit bytes. The error is a
// protocol error and its HTTP status.
func readBody(r *http.Request, limit int64) ([]byte, int, *pubsub.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, http.StatusRequestEntityTooLarge, errTooLarge
		}
		if errors.Is(err, errBodyTimeout) {
			return nil, http.StatusRequestTimeout, pubsub.Errorf(pubsub.CodeBadRequest, "request body not received in time")
		}
		return nil, http.StatusBadRequest, pubsub.Errorf(pubsub.CodeBadRequest, "cannot read body: %v", err)
	}
	return body, 0, nil
}

// decodeBody reads and decodes a JSON object body into v.
func decodeBody(r *http.Request, limit int64, v any) (int, *pubsub.Error) {
	body, status, perr := readBody(r, limit)
	if perr != nil {
		return status, perr
	}
	// json.Unmarshal refuses trailing data after the value.
	if err := json.Unmarshal(body, v); err != nil {
		return http.StatusBadRequest, pubsub.Errorf(pubsub.CodeBadRequest, "malformed JSON body: %v", err)
	}
	return 0, nil
}

// compactData validates publication data and removes insignificant
// whitespace, so its encoding never holds a newline (one SSE data line) and
// every subscriber gets the same bytes. Data must be UTF-8 (RFC 8259 §8.1):
// encoding/json keeps a RawMessage's bytes as sent and json.Compact does
// not check them, so without this check invalid bytes would be stored and
// relayed inside application/json and text/event-stream answers.
func compactData(data json.RawMessage) (json.RawMessage, *pubsub.Error) {
	if len(data) == 0 {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "data is required")
	}
	if !utf8.Valid(data) {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "data is not valid UTF-8")
	}
	var buf bytes.Buffer
	buf.Grow(len(data))
	if err := json.Compact(&buf, data); err != nil {
		return nil, pubsub.Errorf(pubsub.CodeBadRequest, "data is not valid JSON: %v", err)
	}
	return buf.Bytes(), nil
}

// statusOf maps a protocol error met outside /command to its HTTP status.
func statusOf(e *pubsub.Error) int {
	switch e.Code {
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

// wrapf adds context to an error for logs.
func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
