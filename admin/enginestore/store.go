package enginestore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Reader is what a Store needs from the engine: the stored snapshot and
// a cheap look at its version. The Redis engine implements it.
type Reader interface {
	// StructureHead returns the stored snapshot's version and owner
	// without its data; 0 and "" when there is none.
	StructureHead(ctx context.Context) (version int64, owner string, err error)
	// GetStructure returns the stored snapshot; 0, "" and nil when there
	// is none.
	GetStructure(ctx context.Context) (version int64, owner string, data []byte, err error)
}

// PollInterval is how often a Store looks for a new version by itself,
// besides the change notices the node passes to Invalidate: it bounds
// how late a reader is when a notice is lost (pub/sub drops what is sent
// while it reconnects).
const PollInterval = 500 * time.Millisecond

// waitLogEvery is how often Open repeats that it is still waiting.
const waitLogEvery = 30 * time.Second

// state is one snapshot, indexed.
type state struct {
	version int64
	owner   string
	node    string
	index   structure.Index
}

// Store serves the structure read from the engine. It is read-only: the
// structure is edited on its owner. It is safe for concurrent use.
type Store struct {
	r          Reader
	log        *slog.Logger
	cur        atomic.Pointer[state]
	reloadMu   sync.Mutex
	invalidate chan struct{}
}

// Open returns a Store with the engine's current snapshot. When there is
// none yet (the owner has not started) or the engine cannot be reached,
// it logs why and waits, retrying every PollInterval, until ctx is done.
func Open(ctx context.Context, r Reader, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{r: r, log: log, invalidate: make(chan struct{}, 1)}
	var lastLog time.Time
	for {
		_, err := s.reload(ctx)
		if err == nil && s.cur.Load() != nil {
			st := s.cur.Load()
			s.log.Info("structure loaded from the engine", "version", st.version, "owner_node", st.node, "projects", st.index.Len())
			return s, nil
		}
		if time.Since(lastLog) >= waitLogEvery {
			lastLog = time.Now()
			if err != nil {
				s.log.Warn("waiting for the structure snapshot in the engine", "err", err)
			} else {
				s.log.Warn("waiting for the structure snapshot in the engine: none yet; start the node that owns the SQLite file (structure.store: sqlite) on the same engine")
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the structure snapshot: %w", ctx.Err())
		case <-time.After(PollInterval):
		}
	}
}

// reload reads the engine's snapshot and swaps it in when its version or
// owner differ from the current one. It reports whether it did.
func (s *Store) reload(ctx context.Context) (bool, error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	v, owner, data, err := s.r.GetStructure(ctx)
	if err != nil {
		return false, fmt.Errorf("read structure snapshot: %w", err)
	}
	if v == 0 {
		return false, nil // none: keep serving what we have
	}
	if cur := s.cur.Load(); cur != nil && cur.version == v && cur.owner == owner {
		return false, nil
	}
	snap, err := Decode(data)
	if err != nil {
		return false, err
	}
	projects := make([]*structure.Project, len(snap.Projects))
	for i := range snap.Projects {
		projects[i] = &snap.Projects[i]
	}
	s.cur.Store(&state{version: snap.Version, owner: snap.Owner, node: snap.Node, index: structure.NewIndex(projects)})
	return true, nil
}

// Run keeps the structure current until ctx is done: it reloads on
// Invalidate and whenever a look every PollInterval finds another version
// or owner in the engine. changed, which may be nil, is called after each
// new version is in place. When the engine is away or the owner is down,
// the last snapshot keeps being served.
func (s *Store) Run(ctx context.Context, changed func()) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	apply := func() {
		moved, err := s.reload(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("reload structure from the engine; serving the last snapshot", "err", err)
			}
			return
		}
		if moved {
			st := s.cur.Load()
			s.log.Info("structure updated from the engine", "version", st.version, "owner_node", st.node)
			if changed != nil {
				changed()
			}
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.invalidate:
			apply()
		case <-t.C:
			v, owner, err := s.r.StructureHead(ctx)
			if err != nil {
				continue // the engine is away; its own logs say so
			}
			if cur := s.cur.Load(); v != 0 && (v != cur.version || owner != cur.owner) {
				apply()
			}
		}
	}
}

// Invalidate asks Run to reload, for a "structure changed" notice from
// the owner. It never blocks.
func (s *Store) Invalidate() {
	select {
	case s.invalidate <- struct{}{}:
	default: // a reload is already pending
	}
}

// Project returns the project with the given id, or structure.ErrNotFound.
// The returned value is shared and must not be modified.
func (s *Store) Project(_ context.Context, id string) (*structure.Project, error) {
	return s.cur.Load().index.Project(id)
}

// Projects returns a copy of every project in the owner's order (by id).
func (s *Store) Projects(_ context.Context) ([]structure.Project, error) {
	return s.cur.Load().index.Projects(), nil
}

// Version returns the version of the snapshot being served.
func (s *Store) Version() int64 { return s.cur.Load().version }

// ReadOnly reports true: the structure is edited on its owner.
func (s *Store) ReadOnly() bool { return true }

// OwnerNode names the node that wrote the snapshot being served, where
// the structure is edited.
func (s *Store) OwnerNode() string { return s.cur.Load().node }
