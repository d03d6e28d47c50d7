// Package node is the runtime of one Rotor server: sessions and grants,
// channel resolution and namespace rules, stream lifecycle and recovery,
// presence tracking and leave grace, leaves for clients of dead nodes,
// limits, control messages between nodes, metrics, and every operation
// the client protocol, the server API and the admin UI offer. Each
// operation returns a *pubsub.Error; the HTTP edge (package transport)
// decodes requests, calls one operation and encodes its answer. This
// package never imports net/http: the hooks that speak HTTP are given to
// it as the small interfaces it declares (Authorizer, PublishHook,
// EventSink), and a stream writes to a Sink.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// ProjectStore is where the node finds projects: the SQLite store or the
// config file's read-only structure.
type ProjectStore interface {
	Project(ctx context.Context, id string) (*structure.Project, error)
	Projects(ctx context.Context) ([]structure.Project, error)
}

// Options configure a Node. Zero values mean the documented defaults.
type Options struct {
	// NodeID names this node in `info`; "" means a random id.
	NodeID string
	// Version is reported by `info`.
	Version string
	// Delivery, Broker, Presence and Revoker are the engine's core parts,
	// all required (one engine usually provides every one): Delivery is
	// started to hand this node what any node publishes, Broker publishes
	// and keeps history, Presence keeps who is in a channel, Revoker keeps
	// revocation marks.
	Delivery Starter
	Broker   pubsub.Broker
	Presence pubsub.PresenceStore
	Revoker  pubsub.Revoker
	// Nodes and Channels are the engine's cluster parts, set when it joins
	// nodes (the Redis engine). Nil Nodes means `info` reports this node
	// only and it alone reports reaped leaves; nil Channels means
	// `channels` lists this node's channels only.
	// Series likewise shares every node's recent activity for the admin
	// charts; nil means they chart this node only. Watcher delivers a
	// project's publications from every node to the admin live watch; nil
	// means the watch sees what this node's hub sees.
	Nodes    NodeDirectory
	Channels ChannelDirectory
	Series   SeriesDirectory
	Watcher  ProjectWatcher
	Projects ProjectStore
	Logger   *slog.Logger
	// QueueBytes bounds each stream's outgoing queue; 0 means 1 MiB.
	QueueBytes int
	// ChannelsPerStream bounds the channels of one stream; 0 means 128.
	ChannelsPerStream int
	// MaxData bounds publication data, in bytes; 0 means 64 KiB.
	MaxData int64
	// SessionTTL is the lifetime of a session whose token has no exp; 0
	// means 24h.
	SessionTTL time.Duration
	// LeaveGrace delays leave after a client's last stream closes; 0 means
	// 5s.
	LeaveGrace time.Duration
	// PresenceTTL is how long presence outlives a dead node; 0 means 60s.
	PresenceTTL time.Duration
	// AdminAPIKey, when set, acts on every project in the server API.
	AdminAPIKey string
	// Authorizer, PublishHook and Events are the app's hooks
	// (docs/protocol.md, Private channels and Hooks). Authorizer and
	// PublishHook are required; nil Events reports no events.
	Authorizer  Authorizer
	PublishHook PublishHook
	Events      EventSink
	// EventsNeedURL skips, before Events is called, the events of projects
	// with no events_hook_url: the HTTP dispatcher would drop them anyway.
	EventsNeedURL bool
	// HookTimeout bounds auth_url and publish hook calls; 0 means 3s.
	HookTimeout time.Duration
	// Limits are per-client rate and size limits.
	Limits Limits
	// IdempotencyWindow is how long a publish's idempotency key is
	// remembered; 0 means pubsub.DefaultIdempotencyWindow.
	IdempotencyWindow time.Duration
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
	// counts request bodies still arriving (see HoldIP). 0 = no limit.
	ConnectionsPerIP  int
	StreamsPerClient  int
	ChannelsPerClient int
}

// DefaultOptions returns what Options' zero fields mean; cmd/rotor's
// configuration starts from these values, so each default lives here
// only.
func DefaultOptions() Options {
	return Options{
		QueueBytes:        pubsub.DefaultQueueBytes,
		ChannelsPerStream: 128,
		MaxData:           64 << 10,
		SessionTTL:        24 * time.Hour,
		LeaveGrace:        5 * time.Second,
		PresenceTTL:       60 * time.Second,
		HookTimeout:       3 * time.Second,
		Limits:            Limits{CommandRate: 50, CommandBurst: 100},
	}
}

func (o *Options) setDefaults() {
	d := DefaultOptions()
	if o.NodeID == "" {
		o.NodeID = pubsub.RandomID(8)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = d.QueueBytes
	}
	if o.ChannelsPerStream <= 0 {
		o.ChannelsPerStream = d.ChannelsPerStream
	}
	if o.MaxData <= 0 {
		o.MaxData = d.MaxData
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = d.SessionTTL
	}
	if o.LeaveGrace <= 0 {
		o.LeaveGrace = d.LeaveGrace
	}
	if o.PresenceTTL <= 0 {
		o.PresenceTTL = d.PresenceTTL
	}
	if o.HookTimeout <= 0 {
		o.HookTimeout = d.HookTimeout
	}
	if o.Limits.CommandRate <= 0 {
		o.Limits.CommandRate = d.Limits.CommandRate
	}
	if o.Limits.CommandBurst <= 0 {
		o.Limits.CommandBurst = d.Limits.CommandBurst
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Starter is the engine part that delivers to a node: Start begins
// handing h what is published on any node, for the keys this node
// subscribed to, until ctx is done (pubsub.Engine.Start).
type Starter interface {
	Start(ctx context.Context, h pubsub.Handler) error
}

// engineParts joins the parts given in Options into the one engine the
// node's pieces share; each piece keeps to the part it needs.
type engineParts struct {
	Starter
	pubsub.Broker
	pubsub.PresenceStore
	pubsub.Revoker
}

// Node is one Rotor server's runtime: it owns the hub and drives the
// engine. Create it with New, then Start it.
type Node struct {
	opts   Options
	engine pubsub.Engine
	hub    *pubsub.Hub
	log    *slog.Logger

	sessions *sessions
	limits   *Limiter
	events   *events
	cluster  *cluster
	// baseCtx outlives requests: streams whose request has returned
	// (hijacked SSE) use it. It ends when the node stops.
	baseCtx  context.Context
	metrics  *nodeMetrics
	ops      *Ops
	keys     *apiKeyIndex
	presence *presenceTracker
	ghosts   *ghostReaper

	// streams counts open streams (OpenStream to Close), so shutdown can
	// wait for them to send their disconnect.
	streams streamCount
}

// streamCount counts open streams and stops admitting new ones at
// shutdown: a WaitGroup alone would let a stream opened while Shutdown
// waits be added to a count already being waited on.
type streamCount struct {
	mu     sync.RWMutex
	closed bool
	open   sync.WaitGroup
}

// enter counts a new stream; false once closed.
func (c *streamCount) enter() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return false
	}
	c.open.Add(1)
	return true
}

// exit uncounts a stream enter counted.
func (c *streamCount) exit() { c.open.Done() }

// closeAndWait admits no more streams and returns a channel closed when
// every counted one has exited.
func (c *streamCount) closeAndWait() <-chan struct{} {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.open.Wait()
		close(done)
	}()
	return done
}

// New returns a node. It does nothing until Start.
func New(opts Options) (*Node, error) {
	if opts.Delivery == nil || opts.Broker == nil || opts.Presence == nil || opts.Revoker == nil {
		return nil, errors.New("node: Options.Delivery, Broker, Presence and Revoker are required")
	}
	if opts.Projects == nil {
		return nil, errors.New("node: Options.Projects is required")
	}
	if opts.Authorizer == nil || opts.PublishHook == nil {
		return nil, errors.New("node: Options.Authorizer and Options.PublishHook are required")
	}
	opts.setDefaults()
	n := &Node{
		opts:   opts,
		engine: engineParts{opts.Delivery, opts.Broker, opts.Presence, opts.Revoker},
		hub:    pubsub.NewHub(opts.Broker),
		log:    opts.Logger.With("component", "node", "node", opts.NodeID),
	}
	n.keys = newAPIKeyIndex(opts.Projects)
	n.baseCtx = context.Background()
	n.metrics = newNodeMetrics()
	n.ops = &Ops{m: n.metrics.ops, charts: newCharts(), hub: n.hub, series: opts.Series, nodeID: opts.NodeID, log: n.log}
	n.sessions = &sessions{
		revoker: opts.Revoker, tokens: newTokenCache(), authorizer: opts.Authorizer, metrics: n.metrics,
		log: n.log, now: opts.Now, ttl: opts.SessionTTL, hookTimeout: opts.HookTimeout,
	}
	n.limits = &Limiter{
		limits: opts.Limits, maxData: opts.MaxData, channelsPerStream: opts.ChannelsPerStream,
		usage: newUsage(), rates: newRateLimiters(opts.Limits), metrics: n.metrics,
	}
	n.events = &events{sink: opts.Events, needURL: opts.EventsNeedURL, now: opts.Now, projects: opts.Projects, ctx: n.baseCtx}
	n.cluster = &cluster{directory: opts.Nodes, channels: opts.Channels, hub: n.hub, log: n.log, nodeID: opts.NodeID, version: opts.Version}
	n.presence = newPresenceTracker(n.engine, n.log, opts.PresenceTTL, opts.LeaveGrace, n.events.emit)
	n.ghosts = newGhostReaper(opts.Presence, n.hub, opts.Projects, n.log, n.cluster.isReporter, n.events.emit)
	n.hub.OnOccupancy(n.events.occupancy)
	return n, nil
}

// ID returns the node's id, as `info` reports it.
func (n *Node) ID() string { return n.opts.NodeID }

// Hub returns the node's hub.
func (n *Node) Hub() *pubsub.Hub { return n.hub }

// Start starts the engine and the node's background work; both stop when
// ctx is done.
func (n *Node) Start(ctx context.Context) error {
	n.cluster.started = n.opts.Now()
	n.baseCtx, n.events.ctx = ctx, ctx
	if err := n.engine.Start(ctx, engineHandler{n}); err != nil {
		return fmt.Errorf("start engine: %w", err)
	}
	go n.presence.run(ctx, n.ghosts.sweep)
	go n.limits.rates.run(ctx)
	go n.cluster.run(ctx)
	go n.ops.run(ctx)
	return nil
}

// Shutdown sends every stream `disconnect` reason (3001 on
// shutdown, docs/configuration.md: rotor serve) and waits, until ctx is
// done, for every stream to be closed after writing it.
func (n *Node) Shutdown(ctx context.Context, reason *pubsub.Disconnect) error {
	done := n.streams.closeAndWait()
	n.hub.Shutdown(reason)
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("streams still open at shutdown: %w", ctx.Err())
	}
}
