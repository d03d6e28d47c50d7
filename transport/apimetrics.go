package transport

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
)

// apiObservation is what handleAPI tells observeAPI about a request.
type apiObservation struct {
	project string
	code    int // protocol error code, 0 for none
}

type apiObservationKey struct{}

// observedAPI returns the request's observation, or a throwaway one.
func observedAPI(ctx context.Context) *apiObservation {
	if o, ok := ctx.Value(apiObservationKey{}).(*apiObservation); ok {
		return o
	}
	return &apiObservation{}
}

// statusRecorder keeps the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observeAPI measures server API requests at the edge (method, status,
// latency, the protocol error in the body) and reports them to the node's
// metrics and charts.
func (s *Server) observeAPI(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start, obs, rec := time.Now(), &apiObservation{}, &statusRecorder{ResponseWriter: w}
		next(rec, r.WithContext(context.WithValue(r.Context(), apiObservationKey{}, obs)))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		s.node.Ops().APIRequest(chi.URLParam(r, "method"), rec.status, obs.code, obs.project, time.Since(start))
	}
}

// httpVersion names r's protocol for the http_version label.
func httpVersion(r *http.Request) string {
	switch {
	case r.ProtoMajor == 1 && r.ProtoMinor == 1:
		return "1.1"
	case r.ProtoMajor == 2:
		return "2"
	}
	return "other"
}
