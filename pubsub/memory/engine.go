// Package memory is Rotor's single-process engine (docs/scaling.md, One node): history,
// offsets, presence and revocation marks kept in this process's memory.
//
// State is sharded by key so publishers to different keys rarely contend.
// Everything it keeps expires (publications after their history TTL,
// epoch and offset after the longer of that and 5m,
// presence entries after their TTL, revocation marks after theirs), lazily
// on access and by a janitor goroutine, so memory never grows without
// bound. A channel whose state expired starts again with a new epoch, which
// is how a subscriber learns that its history is lost.
package memory

import (
	"context"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

var (
	_ pubsub.Engine        = (*Engine)(nil)
	_ pubsub.HealthChecker = (*Engine)(nil)
)

// shardCount is how many independently locked parts the state is split in.
const shardCount = 64

// Defaults applied when a TTL is zero or negative.
const (
	// defaultHistoryTTL is how long a channel's history lives after its
	// last publication when PublishOptions.HistoryTTL is 0 (engine.go
	// contract).
	defaultHistoryTTL = 5 * time.Minute
	// defaultMetaTTL is the shortest life of a channel's epoch and offset
	// after its last publication, and of the epoch History gives a channel
	// never published to. Meta outliving history lets a client tell
	// "history expired" (same epoch, gap) from "data lost" (new epoch),
	// as in the Redis engine.
	defaultMetaTTL = 5 * time.Minute
	// defaultPresenceTTL applies to AddPresence with ttl <= 0, so an entry
	// never lives forever (the default of client.presence_ttl).
	defaultPresenceTTL = 60 * time.Second
	// defaultRevokeTTL applies to Revoke with ttl <= 0.
	defaultRevokeTTL = 24 * time.Hour
	// defaultSweepInterval is Options.SweepInterval's zero value.
	defaultSweepInterval = time.Second
)

// Options configures an Engine.
type Options struct {
	// Now returns the current time; nil means time.Now. Tests inject a
	// clock here.
	Now func() time.Time
	// SweepInterval is how often the janitor drops expired state; 0 means 1s.
	SweepInterval time.Duration
}

// Engine is the in-memory pubsub.Engine. Create it with New.
type Engine struct {
	now      func() time.Time
	interval time.Duration
	seed     maphash.Seed
	shards   [shardCount]shard
	handler  atomic.Pointer[handlerBox]
}

// handlerBox lets the handler interface live behind an atomic pointer.
type handlerBox struct{ h pubsub.Handler }

// shard is one part of the engine's state.
type shard struct {
	// mu guards the maps and everything reachable from them.
	mu sync.Mutex
	// deliver orders handler calls for the shard's keys: it is taken before
	// mu on publish and held across the handler call, so calls for one key
	// come one at a time and in offset order, while a handler that reads
	// the engine (History, Presence) does not deadlock on mu.
	deliver  sync.Mutex
	channels map[string]*channel
	presence map[string]map[string]presenceEntry
	revoked  map[string]revocation
	// idem remembers the position of each publication made with an
	// idempotency key, until the key's window ends.
	idem map[idemKey]idemEntry
}

// idemKey names a remembered idempotency key: keys are per channel.
type idemKey struct{ channel, key string }

// idemEntry is what a repeated publish answers, and until when.
type idemEntry struct {
	pos     pubsub.Position
	expires time.Time
}

// New returns an engine. It stores publications at once; call Start to
// deliver them and to run the janitor.
func New(opts Options) *Engine {
	e := &Engine{
		now:      opts.Now,
		interval: opts.SweepInterval,
		seed:     maphash.MakeSeed(),
	}
	if e.now == nil {
		e.now = time.Now
	}
	if e.interval <= 0 {
		e.interval = defaultSweepInterval
	}
	for i := range e.shards {
		s := &e.shards[i]
		s.channels = make(map[string]*channel)
		s.presence = make(map[string]map[string]presenceEntry)
		s.revoked = make(map[string]revocation)
		s.idem = make(map[idemKey]idemEntry)
	}
	return e
}

// errStarted is returned by a second Start.
var errStarted = errors.New("memory engine: already started")

// Start sets the handler that receives every publication, join, leave and
// control message, and starts the janitor, which runs until ctx is done.
// One process needs no subscriptions: everything published is delivered.
func (e *Engine) Start(ctx context.Context, h pubsub.Handler) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h == nil {
		return errors.New("memory engine: nil handler")
	}
	if !e.handler.CompareAndSwap(nil, &handlerBox{h: h}) {
		return errStarted
	}
	go e.janitor(ctx)
	return nil
}

// Ready reports that the engine can serve; memory is always ready.
func (e *Engine) Ready(context.Context) error { return nil }

// handlerOf returns the handler, or nil before Start.
func (e *Engine) handlerOf() pubsub.Handler {
	if b := e.handler.Load(); b != nil {
		return b.h
	}
	return nil
}

func (e *Engine) shardOf(key string) *shard {
	return &e.shards[maphash.String(e.seed, key)%shardCount]
}

// Subscribe is a no-op: in one process every publication reaches the
// handler.
func (e *Engine) Subscribe(ctx context.Context, _ ...string) error { return ctx.Err() }

// Unsubscribe is a no-op; see Subscribe.
func (e *Engine) Unsubscribe(ctx context.Context, _ ...string) error { return ctx.Err() }

// PublishJoin delivers a join event to the handler.
func (e *Engine) PublishJoin(ctx context.Context, key string, info *pubsub.ClientInfo) error {
	return e.deliverEvent(ctx, key, info, pubsub.Handler.HandleJoin)
}

// PublishLeave delivers a leave event to the handler.
func (e *Engine) PublishLeave(ctx context.Context, key string, info *pubsub.ClientInfo) error {
	return e.deliverEvent(ctx, key, info, pubsub.Handler.HandleLeave)
}

func (e *Engine) deliverEvent(ctx context.Context, key string, info *pubsub.ClientInfo,
	call func(pubsub.Handler, string, *pubsub.ClientInfo)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h := e.handlerOf()
	if h == nil {
		return nil
	}
	s := e.shardOf(key)
	s.deliver.Lock()
	defer s.deliver.Unlock()
	call(h, key, info)
	return nil
}

// PublishControl delivers data to the handler's HandleControl.
func (e *Engine) PublishControl(ctx context.Context, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if h := e.handlerOf(); h != nil {
		h.HandleControl(data)
	}
	return nil
}
