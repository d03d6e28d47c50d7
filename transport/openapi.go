package transport

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/docs"
)

// openAPIRoutes serves the OpenAPI document of the server API at
// GET /api/openapi.json. It needs no key: it describes the API, it holds
// nothing of a project.
func openAPIRoutes(r chi.Router) {
	r.Get("/api/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(docs.OpenAPI)
	})
}
