package web

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
)

// errReadOnly refuses writes on a file structure.
var errReadOnly = admin.ErrReadOnly

// classify maps a store or node error to an HTTP status, a protocol error code
// (docs/protocol.md, Error codes)
// and a message for people.
func classify(err error) (status, code int, msg string) {
	var fe *admin.FieldError
	var pe *pubsub.Error
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, pubsub.CodeBadRequest, err.Error()
	case errors.Is(err, admin.ErrExists):
		return http.StatusConflict, pubsub.CodeBadRequest, err.Error()
	case errors.Is(err, admin.ErrNotFound):
		return http.StatusNotFound, pubsub.CodeUnknownChannel, err.Error()
	case errors.Is(err, admin.ErrReadOnly):
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
