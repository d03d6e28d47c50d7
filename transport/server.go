// Package transport adapts HTTP to Rotor's runtime (package pubsub/node):
// the SSE and long-poll streams, the client command and connect
// endpoints, the server API and its Pusher-compatible publishing, CORS,
// request bodies and client addresses. Each handler decodes a request,
// calls one operation of the node, and encodes its answer; the node never
// sees a ResponseWriter.
package transport

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/gopool"
	"github.com/rotor-rt/rotor/transport/h1"
	"github.com/rotor-rt/rotor/transport/hangup"
	"github.com/rotor-rt/rotor/transport/hooks"
	"github.com/rotor-rt/rotor/transport/longpoll"
)

// ProjectStore is where the node finds projects: the SQLite store or the
// config file's read-only structure.
type ProjectStore = node.ProjectStore

// Limits are configurable per-client limits; 0 means the default.
type Limits = node.Limits

// Defaults where Options leave BodyTimeout (reading a request body) and
// WriteTimeout (one write to a client) at 0.
const (
	DefaultBodyTimeout  = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Options configure a Server: its node and its HTTP edge. Zero values
// mean the documented defaults.
type Options struct {
	// NodeID names this node in `info`; "" means a random id.
	NodeID string
	// Version is reported by `info`.
	Version string
	// Delivery, Broker, Presence and Revoker are the engine's core parts,
	// required; Nodes, Channels, Series and Watcher its cluster parts, nil
	// when it has none. The node gets them as they are (node.Options).
	Delivery node.Starter
	Broker   pubsub.Broker
	Presence pubsub.PresenceStore
	Revoker  pubsub.Revoker
	Nodes    node.NodeDirectory
	Channels node.ChannelDirectory
	Series   node.SeriesDirectory
	Watcher  node.ProjectWatcher
	Projects ProjectStore
	Logger   *slog.Logger
	// Ping is the longest silence on an SSE stream: a stream that wrote
	// nothing for most of it gets a heartbeat; 0 means 20s.
	Ping time.Duration
	// QueueBytes bounds each stream's outgoing queue; 0 means 1 MiB.
	QueueBytes int
	// ChannelsPerStream bounds the channels of one stream; 0 means 128.
	ChannelsPerStream int
	// MaxBody bounds request bodies of the client endpoints and the
	// server API (413 above it), and so publication data, in bytes; 0
	// means 64 KiB.
	MaxBody int64
	// BodyTimeout bounds reading one request body; 0 means
	// DefaultBodyTimeout.
	BodyTimeout time.Duration
	// SessionTTL is the lifetime of a session whose token has no exp; 0
	// means 24h.
	SessionTTL time.Duration
	// LeaveGrace delays leave after a client's last stream closes; 0 means
	// 5s.
	LeaveGrace time.Duration
	// PresenceTTL is how long presence outlives a dead node; 0 means 60s.
	PresenceTTL time.Duration
	// WriteTimeout bounds one flush to a client; 0: DefaultWriteTimeout.
	WriteTimeout time.Duration
	// AdminAPIKey, when set, acts on every project in the server API.
	AdminAPIKey string
	// Authorizer, PublishHook and Events are the app's hooks
	// (docs/protocol.md, Private channels and Hooks); nil means the HTTP implementations.
	Authorizer  hooks.Authorizer
	PublishHook hooks.PublishHook
	Events      hooks.EventSink
	// HookTimeout bounds auth_url and publish hook calls; 0 means 3s.
	HookTimeout time.Duration
	// HookRetries is how often a failed events hook batch is retried; 0
	// means 5.
	HookRetries int
	// EventsQueueBytes bounds, per project, the events waiting for the
	// events hook, in bytes; 0 means hooks.DefaultQueueBytes (16 MiB).
	EventsQueueBytes int64
	// Limits are per-client rate and size limits.
	Limits Limits
	// IdempotencyWindow is how long a publish's idempotency key is
	// remembered; 0 means pubsub.DefaultIdempotencyWindow.
	IdempotencyWindow time.Duration
	// Padding is the size of a comment sent first on every SSE stream,
	// for proxies that buffer the start of a response; 0 sends none.
	Padding int
	// StreamLifetime ends SSE streams after about this long (±10%) with
	// disconnect 3000, reconnect true; 0 is unlimited.
	StreamLifetime time.Duration
	// ClientIPHeader is a header a trusted proxy sets with the client
	// address; "" uses the TCP peer address.
	ClientIPHeader string
	// NoHijack keeps HTTP/1.1 SSE streams and waiting polls in their
	// handler goroutine instead of taking the connection over.
	NoHijack bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	nd := node.DefaultOptions()
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Ping <= 0 {
		o.Ping = 20 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = nd.MaxData
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.HookTimeout <= 0 {
		o.HookTimeout = nd.HookTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Server is the HTTP edge of one node: it routes requests to the node's
// operations and carries its streams over SSE and long polls. Create it
// with New, then Start it.
type Server struct {
	opts Options
	node *node.Node
	log  *slog.Logger

	// dispatcher is the HTTP events hook when Options.Events was nil.
	dispatcher *hooks.Dispatcher
	heartbeats *heartbeats
	// hangups: see sseConn; nil before Start (a goroutine per stream).
	hangups *hangup.Watcher
	// polls holds answered polls' streams for the clients' next polls.
	polls *longpoll.Parking
	// h1 serves the HTTP/1.1 connections of waiting polls.
	h1 *h1.Server
	// writers run the writes of hijacked SSE streams (sseConn.writeLoop)
	// on goroutines kept for the next write.
	writers *gopool.Pool[*sseConn]
	// baseCtx outlives requests: hijacked streams use it once their
	// handler has returned. It ends when the server stops.
	baseCtx context.Context
}

// New returns a server and its node, wired with the HTTP hooks where
// Options leaves them nil. It does nothing until Start.
func New(opts Options) (*Server, error) {
	if opts.Projects == nil {
		return nil, errors.New("transport: Options.Projects is required")
	}
	opts.setDefaults()
	s := &Server{opts: opts, heartbeats: newHeartbeats(), baseCtx: context.Background(),
		polls:   longpoll.NewParking(longpoll.ParkTTL),
		h1:      h1.New(opts.Logger.With("component", "http"), opts.WriteTimeout),
		writers: gopool.New(sseIdleWriters, (*sseConn).writeLoop)}
	nopts := node.Options{
		NodeID: opts.NodeID, Version: opts.Version, Projects: opts.Projects,
		Delivery: opts.Delivery, Broker: opts.Broker, Presence: opts.Presence, Revoker: opts.Revoker,
		Nodes: opts.Nodes, Channels: opts.Channels, Series: opts.Series, Watcher: opts.Watcher,
		Logger: opts.Logger, QueueBytes: opts.QueueBytes, ChannelsPerStream: opts.ChannelsPerStream,
		MaxData: opts.MaxBody, SessionTTL: opts.SessionTTL, LeaveGrace: opts.LeaveGrace,
		PresenceTTL: opts.PresenceTTL, AdminAPIKey: opts.AdminAPIKey,
		Authorizer: opts.Authorizer, PublishHook: opts.PublishHook, Events: opts.Events,
		HookTimeout: opts.HookTimeout, Limits: opts.Limits, IdempotencyWindow: opts.IdempotencyWindow, Now: opts.Now,
	}
	if nopts.Authorizer == nil {
		nopts.Authorizer = &hooks.HTTPAuthorizer{Client: hooks.NewHTTPClient(opts.HookTimeout)}
	}
	if nopts.PublishHook == nil {
		nopts.PublishHook = &hooks.HTTPPublishHook{Client: hooks.NewHTTPClient(opts.HookTimeout)}
	}
	// The events dispatcher reports to the node's metrics, so it is given
	// to the node once the node exists.
	var events lateSink
	if nopts.Events == nil {
		nopts.Events, nopts.EventsNeedURL = &events, true
	}
	n, err := node.New(nopts)
	if err != nil {
		return nil, err
	}
	s.node, s.log = n, opts.Logger.With("component", "http")
	if nopts.EventsNeedURL {
		obs := n.EventsObserver()
		for _, r := range []string{hooks.DropQueueFull, hooks.DropRetriesExhausted, hooks.DropNoHook} {
			obs.Dropped(r, 0)
		}
		s.dispatcher = hooks.NewDispatcher(hooks.DispatcherOptions{
			// Each project's URL and secret are resolved when a batch is
			// sent, so settings changes apply.
			Resolve: func(ctx context.Context, project string) (string, []byte, bool) {
				p, err := opts.Projects.Project(ctx, project)
				if err != nil || p.EventsHookURL == "" {
					return "", nil, false
				}
				return p.EventsHookURL, []byte(p.Secret), true
			},
			Client:     hooks.NewHTTPClient(opts.HookTimeout),
			Retries:    opts.HookRetries,
			QueueBytes: opts.EventsQueueBytes,
			Observer:   obs,
			Logger:     opts.Logger.With("component", "events-hook"),
		})
		events.Dispatcher = s.dispatcher
	}
	return s, nil
}

var _ hooks.Observer = node.EventsObserver{}

// lateSink is the node's events sink, set to the dispatcher once the node
// it reports to exists. It is set before the server starts.
type lateSink struct{ *hooks.Dispatcher }

// Node returns the server's node.
func (s *Server) Node() *node.Node { return s.node }

// Start starts the node, the events hook, the heartbeats and the hangup
// watcher; all stop when ctx is done.
func (s *Server) Start(ctx context.Context) error {
	s.baseCtx = ctx
	w, err := hangup.New()
	if err != nil {
		return err
	}
	s.hangups = w
	context.AfterFunc(ctx, w.Close)
	s.h1.ParkWith(w)
	if err := s.node.Start(ctx); err != nil {
		return err
	}
	if s.dispatcher != nil {
		go s.dispatcher.Run(ctx)
	}
	go s.heartbeats.run(ctx, s.opts.Ping)
	go s.polls.Run(ctx)
	context.AfterFunc(ctx, s.h1.Shutdown)
	context.AfterFunc(ctx, s.writers.Stop)
	return nil
}

// Shutdown sends every stream `disconnect` reason (3001 on shutdown,
// docs/configuration.md: rotor serve) and waits, until ctx is done, for
// the stream handlers to finish writing it. Parked polls just close;
// idle connections of transport/h1 close, busy ones after their answer.
func (s *Server) Shutdown(ctx context.Context, reason *pubsub.Disconnect) error {
	s.polls.Close()
	s.h1.Shutdown()
	return s.node.Shutdown(ctx, reason)
}

// ID returns the node's id, as `info` reports it.
func (s *Server) ID() string { return s.node.ID() }

// Hub returns the node's hub.
func (s *Server) Hub() *pubsub.Hub { return s.node.Hub() }

// Admin returns the node's bridge for the admin UI.
func (s *Server) Admin() *node.AdminBridge { return s.node.Admin() }

// Collectors returns the node's Prometheus metrics.
func (s *Server) Collectors() []prometheus.Collector { return s.node.Collectors() }

// NotifyStructureChanged tells every node that projects or namespaces
// changed (docs/admin.md, Several nodes: within a second).
func (s *Server) NotifyStructureChanged(ctx context.Context) error {
	return s.node.NotifyStructureChanged(ctx)
}

// ClientIP returns the address a request is counted under by every
// per-address limit: the http.client_ip_header value set by the trusted
// proxy when configured, else the TCP peer. The admin login limit takes
// it from here so both agree on who a client is.
func (s *Server) ClientIP(r *http.Request) string { return s.clientIP(r) }

// project finds the project of a request.
func (s *Server) project(ctx context.Context, id string) (*structure.Project, *pubsub.Error) {
	return s.node.Project(ctx, id)
}
