package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/rotor-rt/rotor/admin/enginestore"
	"github.com/rotor-rt/rotor/admin/sqlite"
	"github.com/rotor-rt/rotor/admin/web"
	"github.com/rotor-rt/rotor/cmd/rotor/config"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/redis"
	domain "github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/static"
	"github.com/rotor-rt/rotor/transport"
	"github.com/rotor-rt/rotor/transport/auth"
)

// engineParts is an engine's parts, named here once so that the node,
// /readyz and the structure store are given each part as a typed value
// instead of probing the engine for it. A nil part is one the engine
// lacks: the memory engine joins no nodes and cannot carry the structure.
type engineParts struct {
	// delivery, broker, presence and revoker are the core every engine
	// has (pubsub.Engine).
	delivery node.Starter
	broker   pubsub.Broker
	presence pubsub.PresenceStore
	revoker  pubsub.Revoker
	// nodes, channels and series share node info, channel counts and
	// chart samples between nodes.
	nodes    node.NodeDirectory
	channels node.ChannelDirectory
	series   node.SeriesDirectory
	// watcher feeds the admin live watch from every node.
	watcher node.ProjectWatcher
	// ready answers /readyz: nil when the engine is ready.
	ready func(context.Context) error
	// structure carries the admin structure between hosts
	// (structure.store: engine).
	structure enginestore.Writer
	// close releases the engine's connections.
	close func() error
}

func newEngine(cfg *config.Config, log *slog.Logger) (*engineParts, error) {
	switch cfg.Engine.Type {
	case config.EngineMemory:
		e := memory.New(memory.Options{})
		return &engineParts{
			delivery: e, broker: e, presence: e, revoker: e,
			ready: e.Ready,
			close: func() error { return nil },
		}, nil
	case config.EngineRedis:
		e, err := redis.New(redis.Options{
			URL: cfg.Engine.RedisURL, Prefix: cfg.Engine.Prefix, Timeout: cfg.Engine.Timeout,
			Logger: log.With("component", "redis"),
		})
		if err != nil {
			return nil, fmt.Errorf("redis engine: %w", err)
		}
		return redisParts(e), nil
	}
	return nil, fmt.Errorf("%w %q", errNoEngine, cfg.Engine.Type)
}

// redisParts names what the Redis engine offers: each part is its own
// value, handed out by the engine, which delivers (Start) and closes. Its
// readiness comes from its background ping, so /readyz answers at once
// even when Redis is frozen.
func redisParts(e *redis.Engine) *engineParts {
	dir, health := e.Directory(), e.Health()
	return &engineParts{
		delivery: e, broker: e.Broker(), presence: e.Presence(), revoker: e.Revoker(),
		nodes: dir, channels: dir, series: dir, watcher: e.Watcher(),
		ready:     func(context.Context) error { return health.Readiness() },
		structure: e.Structure(),
		close:     e.Close,
	}
}

// mountAdmin serves the admin UI at /admin and its API at /api/admin. In
// dev mode with no password hash, a random password is printed.
func mountAdmin(ctx context.Context, r chi.Router, cfg *config.Config, dev bool, store structureStore, node *transport.Server, log *slog.Logger, out io.Writer, tls bool) error {
	hash := []byte(cfg.Admin.PasswordHash)
	if len(hash) == 0 {
		if !dev {
			log.Warn("admin UI off: set admin.password_hash to turn it on")
			if cfg.Admin.APIKey == "" {
				return nil
			}
			// The JSON API still works with the admin key; without a
			// hash the UI answers 404 and has no login form.
		} else {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			password := base64.RawURLEncoding.EncodeToString(b)
			h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
			if err != nil {
				return fmt.Errorf("hash admin password: %w", err)
			}
			hash = h
			fmt.Fprintf(out, "Admin UI: http://%s/admin/  password: %s\n", displayAddr(cfg.HTTP.Address), password)
		}
	}
	var sessionKey []byte // nil: random per process
	if cfg.Admin.SessionKey != "" {
		sessionKey = []byte(cfg.Admin.SessionKey)
	}
	h, err := web.New(web.Options{
		SessionKey:   sessionKey,
		Store:        store,
		Node:         node.Admin(),
		PasswordHash: hash,
		APIKey:       cfg.Admin.APIKey,
		Secure:       tls,
		ClientIP:     node.ClientIP,
		Logger:       log, // web.New adds component=admin
		OnChange: func() {
			if err := node.NotifyStructureChanged(ctx); err != nil {
				log.Warn("structure change notice", "err", err)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("admin UI: %w", err)
	}
	r.Mount("/admin", h.UI())
	r.Mount("/api/admin", h.API())
	return nil
}

// mountStatic serves the embedded assets at /static/ and, in dev mode, the
// demo chat page at /demo.
func mountStatic(r chi.Router, dev bool, demoToken string) {
	files := http.StripPrefix("/static/", http.FileServerFS(static.Assets))
	r.Handle("/static/*", files)
	if !dev {
		return
	}
	r.Get("/demo", func(w http.ResponseWriter, r *http.Request) {
		// In dev mode the page gets the demo token, so it works at once.
		if demoToken != "" && !r.URL.Query().Has("token") {
			http.Redirect(w, r, "/demo?token="+url.QueryEscape(demoToken), http.StatusFound)
			return
		}
		b, err := fs.ReadFile(static.Assets, "demo.html")
		if err != nil {
			http.Error(w, "demo page not built", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b)
	})
}

// demoProject is what a fresh dev server offers: a default namespace with
// presence, join/leave and history, and a `chat` namespace where clients
// may publish too. It lists no allowed_origins: the demo page is served by
// the server itself, whose own origin is always allowed, and no other page
// should ride a developer's session cookie.
func demoProject() *domain.Project {
	def := domain.DefaultNamespaceSettings("default")
	def.Presence, def.JoinLeave = true, true
	chat := domain.DefaultNamespaceSettings("chat")
	chat.Publish, chat.Presence, chat.JoinLeave = true, true, true
	return &domain.Project{
		ID: "demo", Name: "Demo", DefaultNamespace: "default",
		Namespaces: []domain.Namespace{def, chat},
	}
}

// ensureDemo creates the demo project in an empty store, prints how to
// use it and returns a token for the demo page ("" when the store has
// other projects and no demo).
func ensureDemo(ctx context.Context, s *sqlite.Store, cfg *config.Config, out io.Writer) (string, error) {
	p, err := s.Project(ctx, "demo")
	if errors.Is(err, domain.ErrNotFound) {
		projects, lerr := s.Projects(ctx)
		if lerr != nil {
			return "", fmt.Errorf("list projects: %w", lerr)
		}
		if len(projects) > 0 {
			return "", nil
		}
		if err := s.CreateProject(ctx, demoProject()); err != nil {
			return "", fmt.Errorf("create demo project: %w", err)
		}
		p, err = s.Project(ctx, "demo")
	}
	if err != nil {
		return "", fmt.Errorf("demo project: %w", err)
	}
	token, err := auth.MintConnectionToken([]byte(p.Secret), auth.ConnectionClaims{User: "demo-user", Expires: time.Now().Add(24 * time.Hour)})
	if err != nil {
		return "", fmt.Errorf("demo token: %w", err)
	}
	addr := displayAddr(cfg.HTTP.Address)
	fmt.Fprintf(out, `Demo project "demo" (dev mode, stored in %s):
  secret:  %s
  api key: %s
  token:   %s   (user demo-user, 24h)
Try it:
  curl -N 'http://%s/connection/demo/sse?token=%s&channel=news'
  curl -X POST http://%s/api/publish -H 'Authorization: apikey %s' -d '{"channel":"news","data":{"text":"hello"}}'
  Demo chat: http://%s/demo
`, cfg.Structure.SQLitePath, p.Secret, p.APIKey, token, addr, token, addr, p.APIKey, addr)
	return token, nil
}

// displayAddr turns a listen address into one a person can paste.
func displayAddr(addr string) string {
	if len(addr) > 0 && addr[0] == ':' {
		return "localhost" + addr
	}
	return addr
}
