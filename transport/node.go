// Package transport adapts HTTP to Rotor's core: the SSE and long-poll
// streams, the client command endpoint and the server API. It turns
// requests into hub streams and engine calls; the hub never sees a
// ResponseWriter.
package transport

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/hooks"
)

// ProjectStore is where the node finds projects: the SQLite store or the
// config file's read-only structure.
type ProjectStore interface {
	Project(ctx context.Context, id string) (*admin.Project, error)
	Projects(ctx context.Context) ([]admin.Project, error)
}

// DefaultBodyTimeout bounds reading a request body when
// Options.BodyTimeout is 0.
const DefaultBodyTimeout = 10 * time.Second

// Options configure a Node. Zero values mean the documented defaults.
type Options struct {
	// NodeID names this node in `info`; "" means a random id.
	NodeID string
	// Version is reported by `info`.
	Version  string
	Engine   pubsub.Engine
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
	// WriteTimeout bounds one flush to a client; 0 means 10s.
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
	// NoHijack keeps HTTP/1.1 SSE streams in their handler goroutine
	// instead of taking the connection over.
	NoHijack bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limits are configurable per-client limits; 0 means the default.
type Limits struct {
	// CommandRate is /command commands per second per client (default 50),
	// with CommandBurst (default 100).
	CommandRate  float64
	CommandBurst int
	// APIRate is server API requests per second per API key; 0 = no limit.
	APIRate float64
	// PublishRate is client publications per second per client; 0 = no
	// limit.
	PublishRate float64
	// ConnectionsPerIP, StreamsPerClient and ChannelsPerClient bound what
	// open streams and polls hold on this node; ConnectionsPerIP also
	// counts request bodies still arriving (see holdIP). 0 = no limit.
	ConnectionsPerIP  int
	StreamsPerClient  int
	ChannelsPerClient int
}

func (o *Options) setDefaults() {
	if o.NodeID == "" {
		o.NodeID = randomID(8)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Ping <= 0 {
		o.Ping = 20 * time.Second
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = pubsub.DefaultQueueBytes
	}
	if o.ChannelsPerStream <= 0 {
		o.ChannelsPerStream = 128
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 64 << 10
	}
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = DefaultBodyTimeout
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 24 * time.Hour
	}
	if o.LeaveGrace <= 0 {
		o.LeaveGrace = 5 * time.Second
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = 60 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.HookTimeout <= 0 {
		o.HookTimeout = 3 * time.Second
	}
	if o.Limits.CommandRate <= 0 {
		o.Limits.CommandRate = 50
	}
	if o.Limits.CommandBurst <= 0 {
		o.Limits.CommandBurst = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Node is one Rotor server: it owns the hub, drives the engine and serves
// HTTP. Create it with New, then Start it.
type Node struct {
	opts    Options
	engine  pubsub.Engine
	hub     *pubsub.Hub
	log     *slog.Logger
	started time.Time

	// dispatcher is the HTTP events hook when Options.Events was nil;
	// ownEvents then skips projects with no events_hook_url early.
	dispatcher *hooks.Dispatcher
	ownEvents  bool

	usage      *usage
	tokens     *tokenCache
	heartbeats *heartbeats
	// baseCtx outlives requests: hijacked streams use it once their
	// handler has returned. It ends when the node stops.
	baseCtx  context.Context
	metrics  *nodeMetrics
	ops      *opsMetrics
	charts   *charts
	keys     *apiKeyIndex
	presence *presenceTracker
	ghosts   *ghostReaper
	rates    *rateLimiters

	// pubRate is the publications per second seen by the hub over the
	// last report interval, as float64 bits.
	pubRate atomic.Uint64

	// streams counts running stream handlers, so shutdown can wait for
	// them to send their disconnect.
	streams sync.WaitGroup
}

// New returns a node. It does nothing until Start.
func New(opts Options) (*Node, error) {
	if opts.Engine == nil {
		return nil, errors.New("transport: Options.Engine is required")
	}
	if opts.Projects == nil {
		return nil, errors.New("transport: Options.Projects is required")
	}
	opts.setDefaults()
	n := &Node{
		opts:   opts,
		engine: opts.Engine,
		hub:    pubsub.NewHub(opts.Engine),
		log:    opts.Logger.With("component", "node", "node", opts.NodeID),
	}
	n.keys = newAPIKeyIndex(opts.Projects)
	n.usage = newUsage()
	n.tokens = newTokenCache()
	n.heartbeats = newHeartbeats()
	n.baseCtx = context.Background()
	n.metrics = newNodeMetrics()
	n.ops = newOpsMetrics(n)
	n.charts = newCharts()
	n.presence = newPresenceTracker(n)
	n.ghosts = newGhostReaper(n)
	n.hub.OnOccupancy(n.occupancy)
	n.rates = newRateLimiters(opts.Limits)
	if n.opts.Authorizer == nil {
		n.opts.Authorizer = &hooks.HTTPAuthorizer{Client: hooks.NewHTTPClient(opts.HookTimeout)}
	}
	if n.opts.PublishHook == nil {
		n.opts.PublishHook = &hooks.HTTPPublishHook{Client: hooks.NewHTTPClient(opts.HookTimeout)}
	}
	if n.opts.Events == nil {
		n.dispatcher = n.newEventsDispatcher()
		n.opts.Events = n.dispatcher
		n.ownEvents = true
	}
	return n, nil
}

// ID returns the node's id, as `info` reports it.
func (n *Node) ID() string { return n.opts.NodeID }

// Hub returns the node's hub.
func (n *Node) Hub() *pubsub.Hub { return n.hub }

// Start starts the engine and the node's background work; both stop when
// ctx is done.
func (n *Node) Start(ctx context.Context) error {
	n.started = n.opts.Now()
	n.baseCtx = ctx
	if err := n.engine.Start(ctx, n); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	if n.dispatcher != nil {
		go n.dispatcher.Run(ctx)
	}
	go n.presence.run(ctx)
	go n.heartbeats.run(ctx, n.opts.Ping)
	go n.rates.run(ctx)
	go n.reportLoop(ctx)
	go n.chartLoop(ctx)
	return nil
}

// Shutdown sends every stream `disconnect` reason (3001 on
// shutdown, docs/configuration.md: rotor serve) and waits, until ctx is done, for the stream handlers to
// finish writing it.
func (n *Node) Shutdown(ctx context.Context, reason *pubsub.Disconnect) error {
	n.hub.Shutdown(reason)
	done := make(chan struct{})
	go func() {
		n.streams.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("streams still open at shutdown: %w", ctx.Err())
	}
}

// control is a message between nodes, sent with PublishControl.
type control struct {
	Op        string `json:"op"`
	Project   string `json:"project,omitempty"`
	User      string `json:"user,omitempty"`
	Client    string `json:"client,omitempty"`
	Key       string `json:"key,omitempty"`
	Code      int    `json:"code,omitempty"`
	Reason    string `json:"reason,omitempty"`
	Reconnect bool   `json:"reconnect,omitempty"`
}

// Control operations.
const (
	opUnsubscribe = "unsubscribe"
	opDisconnect  = "disconnect"
	opStructure   = "structure"
)

// HandlePublication implements pubsub.Handler.
func (n *Node) HandlePublication(key string, pub *pubsub.Publication) {
	if err := n.hub.Publish(key, pub); err != nil {
		n.log.Error("deliver publication", "key", key, "err", err)
	}
}

// HandleJoin implements pubsub.Handler.
func (n *Node) HandleJoin(key string, info *pubsub.ClientInfo) {
	if err := n.hub.PublishPresence(pubsub.EventJoin, key, info); err != nil {
		n.log.Error("deliver join", "key", key, "err", err)
	}
}

// HandleLeave implements pubsub.Handler.
func (n *Node) HandleLeave(key string, info *pubsub.ClientInfo) {
	n.ghosts.forget(key, info.Client)
	if err := n.hub.PublishPresence(pubsub.EventLeave, key, info); err != nil {
		n.log.Error("deliver leave", "key", key, "err", err)
	}
}

// HandleReconnect implements pubsub.Handler: every stream checks its
// channels against history, as the backplane may have dropped messages.
func (n *Node) HandleReconnect() {
	n.log.Info("engine reconnected: streams resync from history")
	n.hub.Resync()
}

// HandleControl implements pubsub.Handler.
func (n *Node) HandleControl(data []byte) {
	var c control
	if err := json.Unmarshal(data, &c); err != nil {
		n.log.Error("malformed control message", "err", err)
		return
	}
	switch c.Op {
	case opUnsubscribe:
		if c.Client != "" {
			n.hub.UnsubscribeClient(c.Project, c.Client, c.Key)
		} else {
			n.hub.UnsubscribeUser(c.Project, c.User, c.Key)
		}
	case opDisconnect:
		n.hub.DisconnectUser(c.Project, c.User, &pubsub.Disconnect{Code: c.Code, Reason: c.Reason, Reconnect: c.Reconnect})
	case opStructure:
		n.keys.invalidate()
		if inv, ok := n.opts.Projects.(interface{ Invalidate() }); ok {
			inv.Invalidate()
		}
	default:
		n.log.Warn("unknown control op", "op", c.Op)
	}
}

// sendControl publishes a control message to every node.
func (n *Node) sendControl(ctx context.Context, c control) error {
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode control: %w", err)
	}
	if err := n.engine.PublishControl(ctx, b); err != nil {
		return fmt.Errorf("send control %s: %w", c.Op, err)
	}
	return nil
}

// NotifyStructureChanged tells every node that projects or namespaces
// changed, so they drop their caches (docs/admin.md, Several nodes:
// within a second).
func (n *Node) NotifyStructureChanged(ctx context.Context) error {
	return n.sendControl(ctx, control{Op: opStructure})
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomID returns a random id of n bytes of entropy, lower-case base32.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return idEncoding.EncodeToString(b)
}
