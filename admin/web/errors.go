package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// readOnlyErr is the refusal of a write: the structure is the config
// file's, or another node owns it.
func (h *shared) readOnlyErr() error {
	if o, ok := h.opts.Store.(Owned); ok {
		return &structure.OwnedElsewhereError{Owner: o.OwnerNode()}
	}
	return structure.ErrReadOnly
}

// classify maps a store or node error to an HTTP status, a protocol error code
// (docs/protocol.md, Error codes)
// and a message for people.
func classify(err error) (status, code int, msg string) {
	var fe *structure.FieldError
	var pe *pubsub.Error
	var oe *structure.OwnedElsewhereError
	switch {
	case errors.As(err, &oe):
		return http.StatusConflict, pubsub.CodePermissionDenied, oe.Error()
	case errors.As(err, &fe):
		return http.StatusBadRequest, pubsub.CodeBadRequest, err.Error()
	case errors.Is(err, structure.ErrExists):
		return http.StatusConflict, pubsub.CodeBadRequest, err.Error()
	case errors.Is(err, structure.ErrNotFound):
		return http.StatusNotFound, pubsub.CodeUnknownChannel, err.Error()
	case errors.Is(err, structure.ErrReadOnly):
		return http.StatusConflict, pubsub.CodePermissionDenied,
			"the structure is read-only: it comes from the config file"
	case errors.Is(err, pubsub.ErrEngineDown):
		return http.StatusServiceUnavailable, pubsub.CodeUnavailable, pubsub.ErrUnavailable.Message
	case errors.As(err, &pe):
		return http.StatusBadRequest, pe.Code, pe.Message
	}
	return http.StatusInternalServerError, pubsub.CodeInternal, "internal error"
}

type apiErrorBody struct {
	Error pubsub.Error `json:"error"`
}

func apiError(w http.ResponseWriter, status, code int, msg string) {
	writeJSON(w, status, apiErrorBody{Error: pubsub.Error{Code: code, Message: msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}
