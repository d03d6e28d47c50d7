package enginestore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Writer is what a Publisher needs from the engine. The Redis engine
// implements it.
type Writer interface {
	Reader
	// PutStructure stores data as the snapshot of version by owner, in
	// one atomic step, unless the stored one has another owner and a
	// version at least as high, or is the same owner's same version. It
	// returns the previous version and owner (0 and "" for none) and
	// whether it wrote.
	PutStructure(ctx context.Context, version int64, owner string, data []byte) (prevVersion int64, prevOwner string, written bool, err error)
}

// Source is the owner's structure: the SQLite store.
type Source interface {
	// Snapshot returns the structure version and every project, from the
	// same moment.
	Snapshot() (int64, []structure.Project)
	// Version returns the current structure version.
	Version() int64
	// OwnerID returns the random id of the SQLite file.
	OwnerID() string
}

// CheckInterval is how often a Publisher checks the engine still holds
// its snapshot (Redis restarted empty) and nobody else overwrote it.
const CheckInterval = time.Second

// conflictLogEvery is how often an unchanged two-owner conflict is logged
// again.
const conflictLogEvery = time.Minute

// Publisher writes the owner's structure into the engine. It is safe for
// concurrent use.
type Publisher struct {
	src  Source
	w    Writer
	node string
	log  *slog.Logger

	mu           sync.Mutex // one Publish at a time, in version order
	lastConflict string
	conflictAt   time.Time
}

// NewPublisher returns a Publisher of src into w; node names this node in
// the snapshots (host and node id) for the people reading logs and pages.
func NewPublisher(src Source, w Writer, node string, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{src: src, w: w, node: node, log: log}
}

// Publish writes the current structure into the engine, unless the
// engine already holds this version from this owner, or a newer one from
// another owner (logged as an error: two owners on one engine). Call it
// at start and after every change, before announcing the change.
func (p *Publisher) Publish(ctx context.Context) error {
	_, err := p.publish(ctx)
	return err
}

// publish is Publish, reporting whether it wrote.
func (p *Publisher) publish(ctx context.Context) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	version, projects := p.src.Snapshot()
	own := p.src.OwnerID()
	data, err := Encode(&Snapshot{Version: version, Owner: own, Node: p.node, Written: time.Now().UTC(), Projects: projects})
	if err != nil {
		return false, err
	}
	prevV, prevOwner, written, err := p.w.PutStructure(ctx, version, own, data)
	if err != nil {
		return false, fmt.Errorf("write structure snapshot %d: %w", version, err)
	}
	if prevOwner != "" && prevOwner != own {
		p.conflict(ctx, version, prevV, prevOwner, written)
	}
	if written {
		p.log.Info("structure snapshot written to the engine", "version", version, "previous", prevV, "bytes", len(data))
	}
	return written, nil
}

// conflict logs, loudly, a second owner on the same engine. Call with
// p.mu held.
func (p *Publisher) conflict(ctx context.Context, ours, theirs int64, theirOwner string, written bool) {
	key := fmt.Sprint(theirOwner, theirs, ours)
	if key == p.lastConflict && time.Since(p.conflictAt) < conflictLogEvery {
		return
	}
	p.lastConflict, p.conflictAt = key, time.Now()
	theirNode := "unknown node"
	if !written {
		if _, _, data, err := p.w.GetStructure(ctx); err == nil && data != nil {
			if s, err := Decode(data); err == nil {
				theirNode = s.Node
			}
		}
	}
	outcome := "this node's newer version replaced it"
	if !written {
		outcome = "the other owner's version is kept (the newest wins); this node's changes do not reach engine-store nodes"
	}
	p.log.Error("two structure owners on one engine: only one node may have structure.store: sqlite per engine; the others must use structure.store: engine",
		"this_node", p.node, "this_owner", p.src.OwnerID(), "this_version", ours,
		"other_node", theirNode, "other_owner", theirOwner, "other_version", theirs,
		"outcome", outcome)
}

// Run checks every CheckInterval, until ctx is done, that the engine
// holds this owner's current snapshot, and writes it again when it does
// not: when Redis restarted empty, or when another process on the same
// file changed it. changed, which may be nil, is called after a rewrite
// so the node can announce it.
func (p *Publisher) Run(ctx context.Context, changed func()) {
	t := time.NewTicker(CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, owner, err := p.w.StructureHead(ctx)
		if err != nil {
			continue // the engine is away; check again once it is back
		}
		own, local := p.src.OwnerID(), p.src.Version()
		if owner == own && v == local {
			continue
		}
		if owner != "" && owner != own && v >= local {
			// Another owner's newer snapshot: writing would change
			// nothing; say so (at most once a minute) and keep checking.
			p.mu.Lock()
			p.conflict(ctx, local, v, owner, false)
			p.mu.Unlock()
			continue
		}
		if v == 0 {
			p.log.Warn("structure snapshot missing from the engine (restarted empty?): writing it again")
		}
		written, err := p.publish(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.log.Warn("rewrite structure snapshot", "err", err)
			}
			continue
		}
		if written && changed != nil {
			changed()
		}
	}
}
