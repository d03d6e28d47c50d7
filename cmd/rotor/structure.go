package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/admin/enginestore"
	"github.com/rotor-rt/rotor/admin/sqlite"
	"github.com/rotor-rt/rotor/admin/web"
	"github.com/rotor-rt/rotor/cmd/rotor/config"
	domain "github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport"
)

// structureStore is what serve needs from any structure store.
type structureStore interface {
	transport.ProjectStore
	ReadOnly() bool
}

// structure is the configured structure store and what keeps it current:
// the SQLite file (whose owner copies it into a shared engine), the
// config file, or the snapshot read from the engine.
type structure struct {
	store  structureStore
	sqlite *sqlite.Store                         // structure.store: sqlite
	reader *enginestore.Store                    // structure.store: engine
	writer enginestore.Writer                    // the engine, when it can carry the structure to other hosts
	pub    atomic.Pointer[enginestore.Publisher] // set by start; writes may come from any goroutine
	log    *slog.Logger
}

// errEngineStoreNeedsRedis is checkconfig's rule, for a config that
// skipped it.
var errEngineStoreNeedsRedis = errors.New("structure.store engine needs engine.type redis")

// openStructure opens the configured store. With structure.store: engine
// it waits, logging why, until the owner has written a snapshot into the
// engine, or until ctx is done (nil store, nil error: shut down).
// writer is the engine's structure part; nil when the engine has none.
func openStructure(ctx context.Context, cfg *config.Config, writer enginestore.Writer, log *slog.Logger) (*structure, error) {
	st := &structure{log: log.With("component", "structure"), writer: writer}
	switch cfg.Structure.Store {
	case config.StoreFile:
		s, err := admin.NewStaticStore(cfg.Structure.AdminProjects())
		if err != nil {
			return nil, fmt.Errorf("structure from config: %w", err)
		}
		st.store = s
	case config.StoreEngine:
		if st.writer == nil {
			return nil, errEngineStoreNeedsRedis
		}
		s, err := enginestore.Open(ctx, st.writer, st.log)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, err
		}
		st.store, st.reader = s, s
	default:
		s, err := sqlite.Open(ctx, cfg.Structure.SQLitePath, sqlite.WithLogger(log.With("component", "sqlite")))
		if err != nil {
			return nil, fmt.Errorf("open structure store %s: %w", cfg.Structure.SQLitePath, err)
		}
		st.store, st.sqlite = s, s
		if st.writer != nil {
			st.store = ownedStore{Store: s, st: st}
		}
	}
	return st, nil
}

// ownedStore is the SQLite store of a node that owns the structure on a
// shared engine: each write made through it (the admin UI and API) is
// copied into the engine before it returns, so before admin/web announces
// the change and a reader reloads on the notice.
type ownedStore struct {
	*sqlite.Store
	st *structure
}

var _ web.Writer = ownedStore{}

func (o ownedStore) CreateProject(ctx context.Context, p *domain.Project) error {
	return o.copied(ctx, o.Store.CreateProject(ctx, p))
}

func (o ownedStore) UpdateProject(ctx context.Context, p *domain.Project) error {
	return o.copied(ctx, o.Store.UpdateProject(ctx, p))
}

func (o ownedStore) DeleteProject(ctx context.Context, id string) error {
	return o.copied(ctx, o.Store.DeleteProject(ctx, id))
}

func (o ownedStore) RegenerateSecret(ctx context.Context, id string) (string, error) {
	v, err := o.Store.RegenerateSecret(ctx, id)
	return v, o.copied(ctx, err)
}

func (o ownedStore) RegenerateAPIKey(ctx context.Context, id string) (string, error) {
	v, err := o.Store.RegenerateAPIKey(ctx, id)
	return v, o.copied(ctx, err)
}

func (o ownedStore) CreateNamespace(ctx context.Context, projectID string, ns domain.Namespace) error {
	return o.copied(ctx, o.Store.CreateNamespace(ctx, projectID, ns))
}

func (o ownedStore) UpdateNamespace(ctx context.Context, projectID string, ns domain.Namespace) error {
	return o.copied(ctx, o.Store.UpdateNamespace(ctx, projectID, ns))
}

func (o ownedStore) DeleteNamespace(ctx context.Context, projectID, name string) error {
	return o.copied(ctx, o.Store.DeleteNamespace(ctx, projectID, name))
}

// copied writes the snapshot after a successful write. A failure to copy
// does not fail the write, which is stored: the publisher's check writes
// the snapshot again within a second of the engine coming back.
func (o ownedStore) copied(ctx context.Context, err error) error {
	if err == nil {
		o.st.publish(ctx)
	}
	return err
}

// start keeps the structure current until ctx is done, once the node
// runs: the SQLite owner on a shared engine writes its snapshot now and
// whenever the engine lost it; an engine-store node follows new versions.
func (st *structure) start(ctx context.Context, node *transport.Server) {
	if st.sqlite != nil && st.writer != nil {
		host, _ := os.Hostname()
		pub := enginestore.NewPublisher(st.sqlite, st.writer, fmt.Sprintf("%s (node %s)", host, node.ID()), st.log)
		if err := pub.Publish(ctx); err != nil {
			st.log.Warn("write structure snapshot at start; retrying every second", "err", err)
		}
		st.pub.Store(pub)
		go pub.Run(ctx, func() { st.announce(ctx, node) })
	}
	if st.sqlite != nil {
		var changed func()
		if st.pub.Load() != nil {
			// Another process on the same file wrote: copy it for the
			// other hosts too.
			changed = func() { st.changed(ctx, node) }
		}
		go st.sqlite.Run(ctx, changed)
	}
	if st.reader != nil {
		go st.reader.Run(ctx, nil)
	}
}

// changed is called when another process on the same SQLite file wrote:
// the snapshot goes into the engine first, then every node is told, so a
// node that reloads on the notice finds the new version.
func (st *structure) changed(ctx context.Context, node *transport.Server) {
	st.publish(ctx)
	st.announce(ctx, node)
}

// publish copies the structure into the engine, when this node owns it
// on a shared engine and has started.
func (st *structure) publish(ctx context.Context) {
	pub := st.pub.Load()
	if pub == nil {
		return
	}
	if err := pub.Publish(ctx); err != nil {
		st.log.Warn("write structure snapshot after a change; retrying every second", "err", err)
	}
}

func (st *structure) announce(ctx context.Context, node *transport.Server) {
	if err := node.NotifyStructureChanged(ctx); err != nil {
		st.log.Warn("structure change notice", "err", err)
	}
}

// close releases the SQLite file.
func (st *structure) close() {
	if st.sqlite != nil {
		if err := st.sqlite.Close(); err != nil {
			st.log.Warn("close structure store", "err", err)
		}
	}
}
