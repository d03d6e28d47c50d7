// Package web serves the admin UI (/admin) and the admin JSON API
// (/api/admin) described in docs/admin.md.
//
// The UI is server-rendered with templ (package views) and needs a login:
// a bcrypt password, then an HMAC-signed session cookie. State-changing
// requests are guarded by http.CrossOriginProtection and SameSite=Strict
// cookies rather than tokens in forms (see docs/admin.md). The API takes
// the global admin key instead of a session.
package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Store is the read side of a structure store. Both *sqlite.Store and
// *admin.StaticStore satisfy it.
type Store interface {
	Project(ctx context.Context, id string) (*structure.Project, error)
	Projects(ctx context.Context) ([]structure.Project, error)
	// ReadOnly reports whether the structure comes from a file or from
	// another node: forms are disabled and every write refused.
	ReadOnly() bool
}

// Owned is an optional capability of a read-only Store whose structure is
// edited on another node (*enginestore.Store): pages and refusals name it.
type Owned interface {
	// OwnerNode names the node that owns the structure.
	OwnerNode() string
}

// Writer is the optional write side of a Store (*sqlite.Store).
type Writer interface {
	CreateProject(ctx context.Context, p *structure.Project) error
	UpdateProject(ctx context.Context, p *structure.Project) error
	DeleteProject(ctx context.Context, id string) error
	RegenerateSecret(ctx context.Context, id string) (string, error)
	RegenerateAPIKey(ctx context.Context, id string) (string, error)
	CreateNamespace(ctx context.Context, projectID string, ns structure.Namespace) error
	UpdateNamespace(ctx context.Context, projectID string, ns structure.Namespace) error
	DeleteNamespace(ctx context.Context, projectID, name string) error
}

// Node is what the pages need from the running server.
type Node interface {
	// Publish publishes data to a project's channel as the server API does.
	Publish(ctx context.Context, project, channel string, data json.RawMessage) (pubsub.Position, error)
	// History returns up to limit of the newest publications, oldest first,
	// and the channel's position.
	History(ctx context.Context, project, channel string, limit int) ([]*pubsub.Publication, pubsub.Position, error)
	// Presence returns the clients present in a channel, by client id.
	Presence(ctx context.Context, project, channel string) (map[string]*pubsub.ClientInfo, error)
	// Nodes describes every node of the cluster (this one alone without a
	// node directory).
	Nodes(ctx context.Context) ([]pubsub.NodeInfo, error)
	// Watch delivers the publications of the project's channels in
	// namespaces with watch on, Channel filled in, until ctx is done, when
	// the channel is closed. It may drop publications for a slow reader.
	Watch(ctx context.Context, project string) (<-chan *pubsub.Publication, error)
}

// Options configures New.
type Options struct {
	// Store serves the structure. Required.
	Store Store
	// Node serves channel tools, the dashboard and the live watch. Nil
	// shows them as unavailable.
	Node Node
	// PasswordHash is the bcrypt hash of the admin password. Empty turns
	// the UI off: every page, the login form included, answers 404 and no
	// password is ever checked; the JSON API still works with APIKey.
	PasswordHash []byte
	// APIKey is the global admin key for the JSON API (Authorization:
	// apikey <key>). Empty turns the API off (every call gets 401).
	APIKey string
	// Secure marks the session cookie Secure (set under TLS).
	Secure bool
	// SessionKey signs session cookies. Nil means 32 random bytes, so
	// sessions end with the process; give every node the same key to keep
	// them across nodes behind a load balancer.
	SessionKey []byte
	// SessionTTL is how long a login lasts. 0 means 12h.
	SessionTTL time.Duration
	// BasePath is where UI() is mounted. "" means "/admin".
	BasePath string
	// ClientIP returns the address login attempts are counted under: give
	// the server's own (transport.Server.ClientIP), so the admin login
	// trusts the same proxy header as every other limit. Nil means the
	// host of RemoteAddr (no proxy header is trusted).
	ClientIP func(*http.Request) string
	// OnChange is called after every successful structure write made
	// here, so the server can tell other nodes. May be nil.
	OnChange func()
	// Logger receives errors. Nil discards them.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Handler serves the admin UI and API. It mounts four parts that share
// one *shared: auth (login, sessions, request guards), structurePages
// (projects and namespaces), operatorPages (dashboard, charts, channels,
// users, live watch) and adminAPI (the JSON API).
type Handler struct {
	*shared
	auth       *auth
	structure  *structurePages
	operations *operatorPages
	api        *adminAPI
}

// New checks opts and returns a Handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil {
		return nil, errors.New("admin web: Store is required")
	}
	if len(opts.PasswordHash) > 0 {
		if _, err := bcrypt.Cost(opts.PasswordHash); err != nil {
			return nil, fmt.Errorf("admin web: PasswordHash is not a bcrypt hash: %w", err)
		}
	}
	if opts.BasePath == "" {
		opts.BasePath = "/admin"
	}
	if opts.SessionTTL == 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ClientIP == nil {
		opts.ClientIP = remoteHost
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	key := opts.SessionKey
	if key == nil {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails (crypto/rand doc)
	}
	s := &shared{
		opts:     opts,
		log:      opts.Logger.With("component", "admin"),
		sessions: newSessions(key, opts.SessionTTL, opts.Now),
	}
	a := &auth{
		shared:  s,
		limiter: newLoginLimiter(opts.Now),
		checks:  make(checkSlots, maxChecks),
		csrf:    http.NewCrossOriginProtection(),
	}
	a.csrf.SetDenyHandler(http.HandlerFunc(a.denyCrossOrigin))
	return &Handler{
		shared:     s,
		auth:       a,
		structure:  &structurePages{shared: s},
		operations: &operatorPages{shared: s},
		api:        &adminAPI{shared: s},
	}, nil
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// UI returns the admin pages, to be mounted at BasePath. Without a
// password hash it answers 404 to everything: there is no login form to
// guess at.
func (h *Handler) UI() http.Handler {
	r := chi.NewRouter()
	r.Use(securityHeaders)
	if len(h.opts.PasswordHash) == 0 {
		r.HandleFunc("/*", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "The admin UI is off on this server.", http.StatusNotFound)
		})
		return r
	}
	r.Use(h.auth.crossOrigin)
	r.Handle("/static/*", http.StripPrefix(h.opts.BasePath+"/static/", staticFiles()))
	r.Get("/login", h.auth.loginForm)
	r.With(h.auth.formBody(maxLoginForm)).Post("/login", h.auth.login)
	r.Group(func(r chi.Router) {
		r.Use(h.auth.requireLogin, h.auth.formBody(maxForm))
		r.Post("/logout", h.auth.logout)
		r.Get("/", h.operations.dashboard)
		r.Get("/stats", h.operations.stats)
		r.Get("/charts", h.operations.chartsFragment)
		r.Get("/projects", h.structure.projects)
		r.Post("/projects", h.structure.createProject)
		r.Get("/projects/new", h.structure.newProject)
		r.Route("/projects/{id}", func(r chi.Router) {
			r.Get("/", h.structure.project)
			r.Post("/", h.structure.updateProject)
			r.Get("/delete", h.structure.confirmDeleteProject)
			r.Post("/delete", h.structure.deleteProject)
			r.Post("/secret", h.structure.regenerateSecret)
			r.Post("/api_key", h.structure.regenerateAPIKey)
			r.Get("/namespaces/new", h.structure.newNamespace)
			r.Post("/namespaces", h.structure.createNamespace)
			r.Get("/namespaces/{name}", h.structure.namespace)
			r.Post("/namespaces/{name}", h.structure.updateNamespace)
			r.Get("/namespaces/{name}/delete", h.structure.confirmDeleteNamespace)
			r.Post("/namespaces/{name}/delete", h.structure.deleteNamespace)
			r.Get("/watch", h.operations.watchPage)
			r.Get("/watch/stream", h.operations.watchStream)
			r.Get("/channels", h.operations.channelsPage)
			r.Post("/channels", h.operations.publish)
			r.Get("/users", h.operations.findUser)
			r.Get("/users/{user}", h.operations.userPage)
			r.Post("/users/{user}/disconnect", h.operations.disconnect)
			r.Post("/users/{user}/unsubscribe", h.operations.unsubscribe)
			r.Post("/users/{user}/token", h.operations.mintToken)
		})
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, http.StatusNotFound, "Page not found.")
	})
	return r
}

// API returns the admin JSON API, to be mounted at /api/admin.
func (h *Handler) API() http.Handler {
	return h.api.routes()
}
