// Package redis is Rotor's Redis engine (docs/scaling.md): a pub/sub backplane,
// history and offsets kept by one Lua script per publication, presence
// with TTL, revocation marks, and a node directory, so that any number of
// nodes behave as one server. It runs on plain Redis, Sentinel and Cluster
// (sharded pub/sub there) through go-redis's UniversalClient.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotor-rt/rotor/pubsub"
)

var (
	_ pubsub.Broker               = (*Broker)(nil)
	_ pubsub.PresenceStore        = (*Presence)(nil)
	_ pubsub.Revoker              = (*Revoker)(nil)
	_ pubsub.HealthChecker        = (*Health)(nil)
	_ pubsub.NodeDirectory        = (*Directory)(nil)
	_ pubsub.ChannelLister        = (*Directory)(nil)
	_ pubsub.ChannelCountReporter = (*Directory)(nil)
	_ pubsub.SeriesDirectory      = (*Directory)(nil)
)

// Defaults for Options' zero values.
const (
	DefaultPrefix       = "rotor"
	DefaultTimeout      = time.Second
	DefaultPingInterval = 2 * time.Second
	// DefaultMetaTTL is the shortest life of a stream's meta (epoch,
	// offset) after its last publication, and of the meta History creates
	// for a channel never published to (PublishOptions' 5m default).
	DefaultMetaTTL = 5 * time.Minute
	// DefaultHistoryTTL applies when PublishOptions.HistoryTTL is 0.
	DefaultHistoryTTL = 5 * time.Minute
	// DefaultPresenceTTL applies to AddPresence with ttl <= 0.
	DefaultPresenceTTL = 60 * time.Second
	// DefaultRevokeTTL applies to Revoke with ttl <= 0.
	DefaultRevokeTTL = 24 * time.Hour
)

// Options configures an Engine. Zero values take the defaults named.
type Options struct {
	// URL is redis://[user:pass@]host:port[/db] (rediss:// for TLS),
	// unix:///path.sock, redis-sentinel://host:port,host:port/mastername,
	// or several comma-separated redis:// URLs (or redis-cluster://h:p,h:p)
	// for a Cluster; see parseURL. Query options are go-redis's
	// (dial_timeout, pool_size, client_name, protocol, …) and win over the
	// fields below. Required.
	URL string
	// Prefix starts every Redis key and pub/sub topic; "" means "rotor".
	// It may not contain '{' or '}' (Cluster hash tags).
	Prefix string
	// NodeID names this node's Redis connections (CLIENT SETNAME); ""
	// means a random id.
	NodeID string
	// Logger receives connection state changes; nil means slog.Default()
	// with component=redis.
	Logger *slog.Logger
	// Timeout bounds dialing, each read and each write; 0 means
	// DefaultTimeout (1s). It is what makes calls fail fast with
	// ErrEngineDown when Redis is away: an engine call takes at most three
	// times the longest of it and the URL's own timeouts.
	Timeout time.Duration
	// PingInterval is how often an idle pub/sub connection is checked,
	// and how often Redis is pinged for Readiness; 0 means 2s. A
	// connection that misses a pong is replaced.
	PingInterval time.Duration
	// MetaTTL is the shortest life of a stream's meta after its last
	// publication; 0 means 5m. Meta outliving history lets a client tell
	// "history expired" (same epoch, gap) from "data lost" (new epoch).
	MetaTTL time.Duration
	// PoolSize is go-redis's connection pool size per node; 0 means
	// go-redis's default (10 per CPU).
	PoolSize int
}

// Engine is the Redis engine. It owns the client its parts share and
// their background work, and hands out each part, a type with its own
// state: Broker, Presence, Revoker, Directory, Structure, Watcher and
// Health. It is itself the part that delivers: Start hands the node what
// any node publishes (pubsub/node's Options.Delivery). Create it with New,
// call Start once, and Close it when done.
type Engine struct {
	*conn

	startMu sync.Mutex
	started bool
	subs    *subscriber

	broker    Broker
	presence  Presence
	revoker   Revoker
	directory Directory
	structure Structure
	watcher   Watcher
	health    Health
}

// conn is what every part of the engine shares: the client, the options
// and the key names, none of which changes after New.
type conn struct {
	rdb     goredis.UniversalClient
	cluster bool
	opts    Options
	log     *slog.Logger
	keys    keyspace
}

// New connects to Redis (lazily: it does not fail when Redis is down) and
// returns the engine.
func New(opts Options) (*Engine, error) {
	co, err := parseURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("redis prefix %q may not contain braces", opts.Prefix)
	}
	if opts.NodeID == "" {
		opts.NodeID = randomID()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default().With("component", "redis")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.MetaTTL <= 0 {
		opts.MetaTTL = DefaultMetaTTL
	}
	// RESP2: Redis 7.0 on Debian, and no push handling on data connections.
	rdb, cluster, timeout := co.newClient(defaults{
		clientName: "rotor-" + opts.NodeID,
		protocol:   2,
		timeout:    opts.Timeout,
		poolSize:   opts.PoolSize,
	})
	opts.Timeout = timeout
	c := &conn{
		rdb:     rdb,
		cluster: cluster,
		opts:    opts,
		log:     opts.Logger,
		keys:    keyspace{prefix: opts.Prefix},
	}
	e := &Engine{conn: c}
	// The subscriber delivers to the Watcher's state and carries its
	// topics; every part that reads or subscribes shares the subscriber.
	e.watcher.conn = c
	e.watcher.fns = make(map[string]map[uint64]func(string, *pubsub.Publication))
	e.subs = newSubscriber(c, &e.watcher.watches)
	e.watcher.subs = e.subs
	e.broker = Broker{conn: c, subs: e.subs, watch: &e.watcher}
	e.presence = Presence{conn: c}
	e.revoker = Revoker{conn: c}
	e.directory = Directory{conn: c}
	e.structure = Structure{conn: c}
	e.health.conn, e.health.subs = c, e.subs
	return e, nil
}

// Client returns the go-redis client, for tests and tooling.
func (e *Engine) Client() goredis.UniversalClient { return e.rdb }

// Start begins delivering to h until ctx is done. It returns once Redis
// answered and the control topic is subscribed, or with an error wrapping
// pubsub.ErrEngineDown.
func (e *Engine) Start(ctx context.Context, h pubsub.Handler) error {
	e.startMu.Lock()
	defer e.startMu.Unlock()
	if e.started {
		return errors.New("redis engine: already started")
	}
	if err := e.subs.start(ctx, h); err != nil {
		return err
	}
	e.started = true
	// Start's subscription proved Redis answers; the loop keeps it known.
	e.health.ping(ctx)
	go e.health.pingLoop(ctx)
	go e.watcher.refreshLoop(ctx)
	return nil
}

// Broker publishes, keeps history and subscribes this node's keys.
func (e *Engine) Broker() *Broker { return &e.broker }

// Presence keeps who is in a channel.
func (e *Engine) Presence() *Presence { return &e.presence }

// Revoker keeps revocation marks.
func (e *Engine) Revoker() *Revoker { return &e.revoker }

// Directory shares node info, channel counts and chart series between
// nodes.
func (e *Engine) Directory() *Directory { return &e.directory }

// Structure carries the admin structure snapshot between hosts.
func (e *Engine) Structure() *Structure { return &e.structure }

// Watcher feeds the admin live watch from every node.
func (e *Engine) Watcher() *Watcher { return &e.watcher }

// Health answers readiness probes.
func (e *Engine) Health() *Health { return &e.health }

// Close releases the Redis connections. Start's goroutines end with its
// context; Close does not wait for them.
func (e *Engine) Close() error {
	e.subs.stop()
	if err := e.rdb.Close(); err != nil {
		return fmt.Errorf("close redis client: %w", err)
	}
	return nil
}

// opCtx bounds one engine call: a few Timeouts at most, so a call never
// hangs past what the caller could expect even with retries.
func (c *conn) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 3*c.opts.Timeout)
}

// wrap adds context to a Redis error and marks outages with
// pubsub.ErrEngineDown.
func (c *conn) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if isDown(err) {
		return fmt.Errorf("redis %s: %w: %w", op, pubsub.ErrEngineDown, err)
	}
	return fmt.Errorf("redis %s: %w", op, err)
}

// isDown tells outages (network errors, timeouts, a closed pool, a server
// loading or without master) from errors in what was asked.
func isDown(err error) bool {
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		for _, p := range []string{"LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "BUSY", "MOVED", "ASK"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
		return false
	}
	// The caller gave up: not an outage. A deadline, ours or the
	// caller's, is one: Redis did not answer in time.
	return !errors.Is(err, context.Canceled)
}

// randomID returns a short random string for epochs and node ids.
func randomID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	var b [10]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
