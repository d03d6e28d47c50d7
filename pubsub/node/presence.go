package node

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// presenceTracker keeps, per channel and client, how many of the client's
// streams (or polls) on this node hold the channel. It adds presence and
// sends join on the first, and removes presence and sends leave a grace
// period after the last closes — unless one comes back, so a reconnect or
// a switch of transport never flaps (docs/protocol.md, Presence and
// join/leave).
type presenceTracker struct {
	engine pubsub.Engine
	log    *slog.Logger
	// ttl is how long presence outlives this node; grace delays leave.
	ttl, grace time.Duration
	emit       func(*structure.Project, Event)

	mu      sync.Mutex
	entries map[presKey]*presEntry
}

type presKey struct{ key, client string }

type presEntry struct {
	ref   Ref
	info  *pubsub.ClientInfo
	refs  int
	leave *time.Timer
}

func newPresenceTracker(engine pubsub.Engine, log *slog.Logger, ttl, grace time.Duration, emit func(*structure.Project, Event)) *presenceTracker {
	return &presenceTracker{engine: engine, log: log, ttl: ttl, grace: grace, emit: emit, entries: make(map[presKey]*presEntry)}
}

// tracked reports whether a namespace needs presence bookkeeping.
func tracked(c Ref) bool { return c.ns.Presence || c.ns.JoinLeave }

// engineCtx bounds engine calls made on behalf of a stream that may
// already be gone, so they neither hang nor die with the request.
func (t *presenceTracker) engineCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// enterAll records that a stream holds every channel of chans.
func (t *presenceTracker) enterAll(chans []streamChan) {
	for i := range chans {
		t.enter(chans[i].ref, chans[i].info)
	}
}

// exitAll records that a stream of client no longer holds the channels of
// chans it still had, after the grace period.
func (t *presenceTracker) exitAll(chans []streamChan, client string) {
	for i := range chans {
		if c := &chans[i]; !c.gone {
			t.exit(c.ref, client, false)
		}
	}
}

// enter records that a stream of info.Client holds channel c.
func (t *presenceTracker) enter(c Ref, info *pubsub.ClientInfo) {
	if !tracked(c) {
		return
	}
	k := presKey{c.key, info.Client}
	t.mu.Lock()
	e := t.entries[k]
	if e != nil {
		e.refs++
		if e.leave != nil {
			e.leave.Stop()
			e.leave = nil
		}
		t.mu.Unlock()
		return
	}
	e = &presEntry{ref: c, info: info, refs: 1}
	t.entries[k] = e
	t.mu.Unlock()

	ctx, cancel := t.engineCtx()
	defer cancel()
	if c.ns.Presence {
		if err := t.engine.AddPresence(ctx, c.key, info, t.ttl); err != nil {
			t.log.Warn("add presence", "key", c.key, "err", err)
		}
	}
	if c.ns.JoinLeave {
		if err := t.engine.PublishJoin(ctx, c.key, info); err != nil {
			t.log.Warn("publish join", "key", c.key, "err", err)
		}
	}
	t.emit(c.project, Event{Type: EventJoin, Channel: c.ch.Full, Client: info.Client, User: info.User, Info: info.Info})
}

// exit records that one stream of client no longer holds channel c. With
// now false the leave waits for the grace period.
func (t *presenceTracker) exit(c Ref, client string, now bool) {
	if !tracked(c) {
		return
	}
	k := presKey{c.key, client}
	t.mu.Lock()
	e := t.entries[k]
	if e == nil || e.refs == 0 {
		t.mu.Unlock()
		return
	}
	e.refs--
	if e.refs > 0 {
		t.mu.Unlock()
		return
	}
	if now {
		delete(t.entries, k)
		t.mu.Unlock()
		t.leave(e)
		return
	}
	var timer *time.Timer
	timer = time.AfterFunc(t.grace, func() {
		t.mu.Lock()
		if t.entries[k] != e || e.refs > 0 || e.leave != timer {
			t.mu.Unlock()
			return
		}
		delete(t.entries, k)
		t.mu.Unlock()
		t.leave(e)
	})
	e.leave = timer
	t.mu.Unlock()
}

func (t *presenceTracker) leave(e *presEntry) {
	ctx, cancel := t.engineCtx()
	defer cancel()
	c := e.ref
	if c.ns.Presence {
		if err := t.engine.RemovePresence(ctx, c.key, e.info.Client); err != nil {
			t.log.Warn("remove presence", "key", c.key, "err", err)
		}
	}
	if c.ns.JoinLeave {
		if err := t.engine.PublishLeave(ctx, c.key, e.info); err != nil {
			t.log.Warn("publish leave", "key", c.key, "err", err)
		}
	}
	t.emit(c.project, Event{Type: EventLeave, Channel: c.ch.Full, Client: e.info.Client, User: e.info.User, Info: e.info.Info})
}

// run refreshes this node's presence entries well before their TTL, then
// calls sweep, until ctx is done.
func (t *presenceTracker) run(ctx context.Context, sweep func(context.Context)) {
	tick := time.NewTicker(t.ttl / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.refresh(ctx)
			sweep(ctx)
		}
	}
}

func (t *presenceTracker) refresh(ctx context.Context) {
	t.mu.Lock()
	live := make([]*presEntry, 0, len(t.entries))
	for _, e := range t.entries {
		if e.ref.ns.Presence {
			live = append(live, e)
		}
	}
	t.mu.Unlock()
	for _, e := range live {
		if err := t.engine.AddPresence(ctx, e.ref.key, e.info, t.ttl); err != nil {
			t.log.Warn("refresh presence", "key", e.ref.key, "err", err)
			return
		}
	}
}
