// Package requestid gives every HTTP request an id, sets it on the answer
// and carries it in the request's context, where log lines pick it up.
package requestid

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/rotor-rt/rotor/pubsub"
)

// requestIDKey is the context key of a request's id.
type requestIDKey struct{}

// Header carries a request's id, in and out.
const Header = "X-Request-Id"

// Middleware gives every request an id — the caller's X-Request-Id when it
// is a sane token (a proxy's), else a random one — sets it on the answer
// and puts it in the context, where log lines pick it up (LogHandler).
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(Header)
		if !saneID(id) {
			id = pubsub.RandomID(10)
		}
		w.Header().Set(Header, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// saneID accepts 1-64 bytes of [A-Za-z0-9._-], so a client cannot put
// anything odd into logs.
func saneID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// LogHandler wraps a slog handler so that records logged with a request's
// context carry its request_id.
func LogHandler(h slog.Handler) slog.Handler { return &ctxHandler{h} }

type ctxHandler struct{ slog.Handler }

func (h *ctxHandler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *ctxHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &ctxHandler{h.Handler.WithAttrs(as)}
}

func (h *ctxHandler) WithGroup(name string) slog.Handler {
	return &ctxHandler{h.Handler.WithGroup(name)}
}

// NewContext returns ctx carrying id as the request id LogHandler logs.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}
