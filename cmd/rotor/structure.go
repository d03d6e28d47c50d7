package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/admin/enginestore"
	"github.com/rotor-rt/rotor/admin/sqlite"
	"github.com/rotor-rt/rotor/cmd/rotor/config"
	"github.com/rotor-rt/rotor/pubsub"
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
	sqlite *sqlite.Store      // structure.store: sqlite
	reader *enginestore.Store // structure.store: engine
	writer enginestore.Writer // the engine, when it can carry the structure to other hosts
	pub    *enginestore.Publisher
	log    *slog.Logger
}

// errEngineStoreNeedsRedis is checkconfig's rule, for a config that
// skipped it.
var errEngineStoreNeedsRedis = errors.New("structure.store engine needs engine.type redis")

// openStructure opens the configured store. With structure.store: engine
// it waits, logging why, until the owner has written a snapshot into the
// engine, or until ctx is done (nil store, nil error: shut down).
func openStructure(ctx context.Context, cfg *config.Config, engine pubsub.Engine, log *slog.Logger) (*structure, error) {
	st := &structure{log: log.With("component", "structure")}
	st.writer, _ = engine.(enginestore.Writer)
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
	}
	return st, nil
}

// start keeps the structure current until ctx is done, once the node
// runs: the SQLite owner on a shared engine writes its snapshot now and
// whenever the engine lost it; an engine-store node follows new versions.
func (st *structure) start(ctx context.Context, node *transport.Node) {
	if st.sqlite != nil && st.writer != nil {
		host, _ := os.Hostname()
		st.pub = enginestore.NewPublisher(st.sqlite, st.writer, fmt.Sprintf("%s (node %s)", host, node.ID()), st.log)
		if err := st.pub.Publish(ctx); err != nil {
			st.log.Warn("write structure snapshot at start; retrying every second", "err", err)
		}
		go st.pub.Run(ctx, func() { st.announce(ctx, node) })
	}
	if st.sqlite != nil {
		var changed func()
		if st.pub != nil {
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

// changed is called after a structure write on this node: the snapshot
// goes into the engine first, then every node is told, so a node that
// reloads on the notice finds the new version.
func (st *structure) changed(ctx context.Context, node *transport.Node) {
	if st.pub != nil {
		if err := st.pub.Publish(ctx); err != nil {
			st.log.Warn("write structure snapshot after a change; retrying every second", "err", err)
		}
	}
	st.announce(ctx, node)
}

func (st *structure) announce(ctx context.Context, node *transport.Node) {
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
