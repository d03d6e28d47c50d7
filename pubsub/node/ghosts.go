package node

import (
	"context"
	"log/slog"
	"sync"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// ghostReaper sends the leave events that a dead node could not send
// (docs/protocol.md, Presence and join/leave): its clients' presence entries expire by TTL, and each node
// notices, in the channels it has subscribers in, members that vanished
// without a leave. It tells only its own streams, so no leave is sent
// twice however many nodes notice; the events hook hears of it from one
// node (the one with the lowest id among those alive).
//
// A client counts as vanished when two reads of presence in a row miss it
// and no leave came for it: a normal leave (presence removed, then leave
// published) always lands between the two.
type ghostReaper struct {
	presence pubsub.PresenceStore
	hub      *pubsub.Hub
	projects ProjectStore
	log      *slog.Logger
	// reporter says whether this node reports reaped leaves to the
	// events hook; emit reports one.
	reporter func(context.Context) bool
	emit     func(*structure.Project, Event)

	mu sync.Mutex
	// seen[key][client] is the member's info and how many reads in a row
	// missed it.
	seen map[string]map[string]*ghostEntry
}

type ghostEntry struct {
	info   *pubsub.ClientInfo
	missed int
}

func newGhostReaper(presence pubsub.PresenceStore, hub *pubsub.Hub, projects ProjectStore, log *slog.Logger,
	reporter func(context.Context) bool, emit func(*structure.Project, Event)) *ghostReaper {
	return &ghostReaper{presence: presence, hub: hub, projects: projects, log: log, reporter: reporter, emit: emit,
		seen: make(map[string]map[string]*ghostEntry)}
}

// forget drops a client that left the normal way.
func (g *ghostReaper) forget(key, client string) {
	g.mu.Lock()
	if m := g.seen[key]; m != nil {
		delete(m, client)
	}
	g.mu.Unlock()
}

// sweep reads presence of every local channel with presence and
// join/leave on, and sends leave for members gone without one.
func (g *ghostReaper) sweep(ctx context.Context) {
	local := g.hub.Channels()
	// Whether this node reports to the events hook is asked of the engine
	// only once something vanished: most sweeps find nothing.
	reporter, asked := false, false
	g.mu.Lock()
	for key := range g.seen {
		if _, ok := local[key]; !ok {
			delete(g.seen, key)
		}
	}
	g.mu.Unlock()
	for key := range local {
		project, name := pubsub.SplitKey(key)
		p, err := g.projects.Project(ctx, project)
		if err != nil {
			continue
		}
		c, perr := resolve(p, name)
		if perr != nil || !c.ns.Presence || !c.ns.JoinLeave {
			continue
		}
		members, err := g.presence.Presence(ctx, key)
		if err != nil {
			return // the engine is away: nothing can be told apart now
		}
		var gone []*pubsub.ClientInfo
		g.mu.Lock()
		m := g.seen[key]
		if m == nil {
			m = make(map[string]*ghostEntry)
			g.seen[key] = m
		}
		for id, e := range m {
			if _, ok := members[id]; ok {
				e.missed = 0
				continue
			}
			if e.missed++; e.missed >= 2 {
				gone = append(gone, e.info)
				delete(m, id)
			}
		}
		for id, info := range members {
			if e := m[id]; e == nil {
				m[id] = &ghostEntry{info: info}
			}
		}
		g.mu.Unlock()
		for _, info := range gone {
			g.log.Info("leave for a client of a node that went away", "key", key, "client", info.Client)
			if err := g.hub.PublishPresence(pubsub.EventLeave, key, info); err != nil {
				g.log.Error("deliver leave", "key", key, "err", err)
			}
			if !asked {
				reporter, asked = g.reporter(ctx), true
			}
			if reporter {
				g.emit(p, Event{Type: EventLeave, Channel: name, Client: info.Client, User: info.User, Info: info.Info})
			}
		}
	}
}
