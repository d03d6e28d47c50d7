// Package sqlite keeps Rotor's structure (projects and namespaces)
// in a SQLite file: the default, editable store (docs/admin.md).
//
// Writes go through one writer connection with BEGIN IMMEDIATE and a busy
// timeout, reads through a small pool, both on a WAL database, so several
// processes may share one file. The structure is read on every request, so
// it is served from an in-memory snapshot that every write and Run keep
// fresh.
package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
	// Registers the "sqlite3" driver.
	_ "github.com/mattn/go-sqlite3"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// busyTimeoutMS is how long a connection waits for another process's
// write lock before failing with "database is locked".
const busyTimeoutMS = 10000

// readConns is the size of the read pool.
const readConns = 4

// Store is the SQLite structure store. It is safe for concurrent use.
type Store struct {
	w   *sqlx.DB // one connection: SQLite has one writer at a time
	r   *sqlx.DB // read pool
	log *slog.Logger

	owner      string // the file's random id (OwnerID)
	snap       atomic.Pointer[snapshot]
	reloadMu   sync.Mutex    // serializes reloads so snapshots only move forward
	invalidate chan struct{} // Invalidate → Run
}

var _ interface {
	Project(context.Context, string) (*structure.Project, error)
	Projects(context.Context) ([]structure.Project, error)
	ReadOnly() bool
} = (*Store)(nil)

// Option configures Open.
type Option func(*Store)

// WithLogger sets the logger Run reports polling failures to.
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// Open opens (creating if needed) the SQLite file at path, applies the
// embedded migrations and loads the structure into memory.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	s := &Store{log: slog.New(slog.DiscardHandler), invalidate: make(chan struct{}, 1)}
	for _, o := range opts {
		o(s)
	}
	s.log = s.log.With("component", "sqlite")
	if err := createPrivate(path, s.log); err != nil {
		return nil, err
	}
	var err error
	if s.w, err = openDB(path, "immediate", 1); err != nil {
		return nil, err
	}
	if s.r, err = openDB(path, "deferred", readConns); err != nil {
		_ = s.w.Close()
		return nil, err
	}
	if err := migrate(ctx, s.w); err != nil {
		_ = s.Close()
		return nil, err
	}
	if err := s.r.GetContext(ctx, &s.owner, `SELECT owner FROM structure_owner WHERE id = 1`); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("read structure owner id: %w", err)
	}
	if err := s.reload(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// createPrivate creates a missing database file with mode 0600: it holds
// project secrets and API keys. SQLite gives the -wal and -shm files the
// mode of the database file, so they are private too. An existing file
// keeps its mode (an operator may have chosen it), with a warning when
// others may read it.
func createPrivate(path string, log *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return fmt.Errorf("create sqlite %q: %w", path, err)
		}
		return nil
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create sqlite %q: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat sqlite %q: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn("the structure database holds secrets and others may read it; chmod 600 it", "path", path, "mode", fi.Mode().Perm().String())
	}
	return nil
}

func openDB(path, txlock string, conns int) (*sqlx.DB, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_busy_timeout", fmt.Sprint(busyTimeoutMS))
	q.Set("_foreign_keys", "on")
	q.Set("_synchronous", "NORMAL")
	q.Set("_txlock", txlock)
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sqlx.Open("sqlite3", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// OwnerID returns the file's random id, made once when the file was
// created: every process on this file shares it, a copy of the file on
// another host too, a different file never.
func (s *Store) OwnerID() string { return s.owner }

// ReadOnly reports false: this store is edited from the admin UI and API.
func (s *Store) ReadOnly() bool { return false }

// Close closes both connection pools.
func (s *Store) Close() error {
	var errs []error
	if s.r != nil {
		if err := s.r.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.w != nil {
		if err := s.w.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("close sqlite: %v", errs)
	}
	return nil
}
