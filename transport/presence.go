package transport

import (
	"context"
	"sync"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/hooks"
)

// presenceTracker keeps, per channel and client, how many of the client's
// streams (or polls) on this node hold the channel. It adds presence and
// sends join on the first, and removes presence and sends leave a grace
// period after the last closes — unless one comes back, so a reconnect or
// a switch of transport never flaps (docs/protocol.md, Presence and
// join/leave).
type presenceTracker struct {
	n *Node

	mu      sync.Mutex
	entries map[presKey]*presEntry
}

type presKey struct{ key, client string }

type presEntry struct {
	ref   chanRef
	info  *pubsub.ClientInfo
	refs  int
	leave *time.Timer
}

func newPresenceTracker(n *Node) *presenceTracker {
	return &presenceTracker{n: n, entries: make(map[presKey]*presEntry)}
}

// tracked reports whether a namespace needs presence bookkeeping.
func tracked(c chanRef) bool { return c.ns.Presence || c.ns.JoinLeave }

// engineCtx bounds engine calls made on behalf of a stream that may
// already be gone, so they neither hang nor die with the request.
func (t *presenceTracker) engineCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// enter records that a stream of info.Client holds channel c.
func (t *presenceTracker) enter(c chanRef, info *pubsub.ClientInfo) {
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
		if err := t.n.engine.AddPresence(ctx, c.key, info, t.n.opts.PresenceTTL); err != nil {
			t.n.log.Warn("add presence", "key", c.key, "err", err)
		}
	}
	if c.ns.JoinLeave {
		if err := t.n.engine.PublishJoin(ctx, c.key, info); err != nil {
			t.n.log.Warn("publish join", "key", c.key, "err", err)
		}
	}
	t.n.emit(c.project, hooks.Event{Type: hooks.EventJoin, Channel: c.ch.Full, Client: info.Client, User: info.User, Info: info.Info})
}

// exit records that one stream of client no longer holds channel c. With
// now false the leave waits for the grace period.
func (t *presenceTracker) exit(c chanRef, client string, now bool) {
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
	timer = time.AfterFunc(t.n.opts.LeaveGrace, func() {
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
		if err := t.n.engine.RemovePresence(ctx, c.key, e.info.Client); err != nil {
			t.n.log.Warn("remove presence", "key", c.key, "err", err)
		}
	}
	if c.ns.JoinLeave {
		if err := t.n.engine.PublishLeave(ctx, c.key, e.info); err != nil {
			t.n.log.Warn("publish leave", "key", c.key, "err", err)
		}
	}
	t.n.emit(c.project, hooks.Event{Type: hooks.EventLeave, Channel: c.ch.Full, Client: e.info.Client, User: e.info.User, Info: e.info.Info})
}

// run refreshes this node's presence entries well before their TTL, until
// ctx is done.
func (t *presenceTracker) run(ctx context.Context) {
	tick := time.NewTicker(t.n.opts.PresenceTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			t.refresh(ctx)
			t.n.ghosts.sweep(ctx)
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
		if err := t.n.engine.AddPresence(ctx, e.ref.key, e.info, t.n.opts.PresenceTTL); err != nil {
			t.n.log.Warn("refresh presence", "key", e.ref.key, "err", err)
			return
		}
	}
}
