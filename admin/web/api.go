package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// adminAPI serves the admin JSON API (/api/admin): the global admin key
// check, projects, namespaces and the channel list as JSON.
type adminAPI struct {
	*shared
}

// duration is a time.Duration on the wire as a Go duration string ("5m0s"),
// like the config file; numbers are read as seconds.
type duration time.Duration

func (d duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("history_ttl: %q is not a duration such as 300s or 5m", s)
		}
		*d = duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("history_ttl: must be a duration string or a number of seconds")
	}
	*d = duration(time.Duration(secs * float64(time.Second)))
	return nil
}

// apiNamespace is structure.Namespace on the wire.
type apiNamespace struct {
	Name        string   `json:"name"`
	Publish     bool     `json:"publish"`
	Anonymous   bool     `json:"anonymous"`
	Presence    bool     `json:"presence"`
	JoinLeave   bool     `json:"join_leave"`
	HistorySize int      `json:"history_size"`
	HistoryTTL  duration `json:"history_ttl"`
	Watch       bool     `json:"watch"`
}

func toAPINamespace(ns structure.Namespace) apiNamespace {
	return apiNamespace{ns.Name, ns.Publish, ns.Anonymous, ns.Presence, ns.JoinLeave,
		ns.HistorySize, duration(ns.HistoryTTL), ns.Watch}
}

func (a apiNamespace) namespace() structure.Namespace {
	return structure.Namespace{Name: a.Name, Publish: a.Publish, Anonymous: a.Anonymous,
		Presence: a.Presence, JoinLeave: a.JoinLeave, HistorySize: a.HistorySize,
		HistoryTTL: time.Duration(a.HistoryTTL), Watch: a.Watch}
}

// apiProject is structure.Project on the wire. Secret and APIKey are only
// sent when they were just made (create, regenerate).
type apiProject struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	Secret           string         `json:"secret,omitempty"`
	APIKey           string         `json:"api_key,omitempty"`
	DefaultNamespace string         `json:"default_namespace"`
	AuthURL          string         `json:"auth_url"`
	PublishHookURL   string         `json:"publish_hook_url"`
	EventsHookURL    string         `json:"events_hook_url"`
	AllowedOrigins   []string       `json:"allowed_origins"`
	Anonymous        bool           `json:"anonymous"`
	Namespaces       []apiNamespace `json:"namespaces"`
}

func toAPIProject(p *structure.Project, withSecrets bool) apiProject {
	a := apiProject{ID: p.ID, Name: p.Name, DefaultNamespace: p.DefaultNamespace,
		AuthURL: p.AuthURL, PublishHookURL: p.PublishHookURL, EventsHookURL: p.EventsHookURL,
		AllowedOrigins: p.AllowedOrigins, Anonymous: p.Anonymous, Namespaces: []apiNamespace{}}
	if a.AllowedOrigins == nil {
		a.AllowedOrigins = []string{}
	}
	if withSecrets {
		a.Secret, a.APIKey = p.Secret, p.APIKey
	}
	for _, ns := range p.Namespaces {
		a.Namespaces = append(a.Namespaces, toAPINamespace(ns))
	}
	return a
}

func (a *apiProject) project() structure.Project {
	p := structure.Project{ID: a.ID, Name: a.Name, Secret: a.Secret, APIKey: a.APIKey,
		DefaultNamespace: a.DefaultNamespace, AuthURL: a.AuthURL, PublishHookURL: a.PublishHookURL,
		EventsHookURL: a.EventsHookURL, AllowedOrigins: a.AllowedOrigins, Anonymous: a.Anonymous}
	for _, ns := range a.Namespaces {
		p.Namespaces = append(p.Namespaces, ns.namespace())
	}
	return p
}

// decode reads a JSON body onto v (fields absent from the body keep their
// values: PATCH is a merge), refusing unknown fields.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxForm))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		apiError(w, http.StatusBadRequest, pubsub.CodeBadRequest, "malformed JSON body: "+err.Error())
		return false
	}
	// One value and nothing after it: `{"a":1} {"a":2}` or a stray
	// character is a broken body, not a merge of its first part.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		apiError(w, http.StatusBadRequest, pubsub.CodeBadRequest, "malformed JSON body: data after the JSON object")
		return false
	}
	return true
}

func (h *adminAPI) apiStoreError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := classify(err)
	if status == http.StatusInternalServerError {
		h.log.Error("admin API", "path", r.URL.Path, "err", err)
	}
	apiError(w, status, code, msg)
}

func (h *adminAPI) apiWriter(w http.ResponseWriter, r *http.Request) Writer {
	wr := h.writer()
	if wr == nil {
		h.apiStoreError(w, r, h.readOnlyErr())
	}
	return wr
}

func (h *adminAPI) apiProjects(w http.ResponseWriter, r *http.Request) {
	list, err := h.opts.Store.Projects(r.Context())
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	out := make([]apiProject, 0, len(list))
	for i := range list {
		out = append(out, toAPIProject(&list[i], false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"projects": out})
}

func (h *adminAPI) apiProject(w http.ResponseWriter, r *http.Request) {
	p, err := h.opts.Store.Project(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toAPIProject(p, false))
}

func (h *adminAPI) apiCreateProject(w http.ResponseWriter, r *http.Request) {
	wr := h.apiWriter(w, r)
	if wr == nil {
		return
	}
	var a apiProject
	if !decode(w, r, &a) {
		return
	}
	p := a.project()
	if err := p.CheckEndpoints(); err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	if err := wr.CreateProject(r.Context(), &p); err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	h.changed()
	writeJSON(w, http.StatusCreated, toAPIProject(&p, true))
}

func (h *adminAPI) apiUpdateProject(w http.ResponseWriter, r *http.Request) {
	wr := h.apiWriter(w, r)
	if wr == nil {
		return
	}
	cur, err := h.opts.Store.Project(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		apiError(w, http.StatusBadRequest, pubsub.CodeBadRequest, err.Error())
		return
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil {
		apiError(w, http.StatusBadRequest, pubsub.CodeBadRequest, "malformed JSON body: "+err.Error())
		return
	}
	if _, ok := keys["namespaces"]; ok {
		apiError(w, http.StatusBadRequest, pubsub.CodeBadRequest, "namespaces are changed through /projects/{id}/namespaces")
		return
	}
	a := toAPIProject(cur, false)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		apiError(w, http.StatusBadRequest, pubsub.CodeBadRequest, "malformed JSON body: "+err.Error())
		return
	}
	if a.ID != cur.ID {
		apiError(w, http.StatusBadRequest, pubsub.CodeBadRequest, "id: cannot be changed")
		return
	}
	p := a.project()
	if err := p.CheckEndpoints(); err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	if err := wr.UpdateProject(r.Context(), &p); err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	h.changed()
	h.apiProject(w, r)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxForm)); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	return buf.Bytes(), nil
}

func (h *adminAPI) apiDeleteProject(w http.ResponseWriter, r *http.Request) {
	wr := h.apiWriter(w, r)
	if wr == nil {
		return
	}
	if err := wr.DeleteProject(r.Context(), chi.URLParam(r, "id")); err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	h.changed()
	w.WriteHeader(http.StatusNoContent)
}

func (h *adminAPI) apiRegenerateSecret(w http.ResponseWriter, r *http.Request) {
	h.apiRegenerate(w, r, "secret", Writer.RegenerateSecret)
}

func (h *adminAPI) apiRegenerateAPIKey(w http.ResponseWriter, r *http.Request) {
	h.apiRegenerate(w, r, "api_key", Writer.RegenerateAPIKey)
}

func (h *adminAPI) apiRegenerate(w http.ResponseWriter, r *http.Request, field string,
	fn func(Writer, contextT, string) (string, error)) {
	wr := h.apiWriter(w, r)
	if wr == nil {
		return
	}
	v, err := fn(wr, r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	h.changed()
	writeJSON(w, http.StatusOK, map[string]string{field: v})
}

func (h *adminAPI) apiNamespaces(w http.ResponseWriter, r *http.Request) {
	p, err := h.opts.Store.Project(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": toAPIProject(p, false).Namespaces})
}

func (h *adminAPI) apiNamespace(w http.ResponseWriter, r *http.Request) {
	p, err := h.opts.Store.Project(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	ns, ok := p.Namespace(name)
	if !ok || name == "" {
		h.apiStoreError(w, r, fmt.Errorf("namespace %q: %w", name, structure.ErrNotFound))
		return
	}
	writeJSON(w, http.StatusOK, toAPINamespace(*ns))
}

func (h *adminAPI) apiCreateNamespace(w http.ResponseWriter, r *http.Request) {
	wr := h.apiWriter(w, r)
	if wr == nil {
		return
	}
	id := chi.URLParam(r, "id")
	a := toAPINamespace(structure.DefaultNamespaceSettings(""))
	if !decode(w, r, &a) {
		return
	}
	if err := wr.CreateNamespace(r.Context(), id, a.namespace()); err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	h.changed()
	writeJSON(w, http.StatusCreated, a)
}

func (h *adminAPI) apiUpdateNamespace(w http.ResponseWriter, r *http.Request) {
	wr := h.apiWriter(w, r)
	if wr == nil {
		return
	}
	p, err := h.opts.Store.Project(r.Context(), chi.URLParam(r, "id"))
	if err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	name := chi.URLParam(r, "name")
	ns, ok := p.Namespace(name)
	if !ok || name == "" {
		h.apiStoreError(w, r, fmt.Errorf("namespace %q: %w", name, structure.ErrNotFound))
		return
	}
	a := toAPINamespace(*ns)
	if !decode(w, r, &a) {
		return
	}
	if a.Name != name {
		apiError(w, http.StatusBadRequest, pubsub.CodeBadRequest, "name: cannot be changed")
		return
	}
	if err := wr.UpdateNamespace(r.Context(), p.ID, a.namespace()); err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	h.changed()
	writeJSON(w, http.StatusOK, a)
}

func (h *adminAPI) apiDeleteNamespace(w http.ResponseWriter, r *http.Request) {
	wr := h.apiWriter(w, r)
	if wr == nil {
		return
	}
	if err := wr.DeleteNamespace(r.Context(), chi.URLParam(r, "id"), chi.URLParam(r, "name")); err != nil {
		h.apiStoreError(w, r, err)
		return
	}
	h.changed()
	w.WriteHeader(http.StatusNoContent)
}

// routes is the JSON API's router.
func (h *adminAPI) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(h.requireAPIKey, h.ownerHeader)
	r.Get("/projects", h.apiProjects)
	r.Post("/projects", h.apiCreateProject)
	r.Get("/projects/{id}", h.apiProject)
	r.Patch("/projects/{id}", h.apiUpdateProject)
	r.Delete("/projects/{id}", h.apiDeleteProject)
	r.Post("/projects/{id}/secret", h.apiRegenerateSecret)
	r.Post("/projects/{id}/api_key", h.apiRegenerateAPIKey)
	r.Get("/projects/{id}/channels", h.apiChannels)
	r.Get("/projects/{id}/namespaces", h.apiNamespaces)
	r.Post("/projects/{id}/namespaces", h.apiCreateNamespace)
	r.Get("/projects/{id}/namespaces/{name}", h.apiNamespace)
	r.Patch("/projects/{id}/namespaces/{name}", h.apiUpdateNamespace)
	r.Delete("/projects/{id}/namespaces/{name}", h.apiDeleteNamespace)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusNotFound, pubsub.CodeUnknownMethod, "unknown admin API path")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		apiError(w, http.StatusMethodNotAllowed, pubsub.CodeUnknownMethod, "method not allowed")
	})
	return r
}
