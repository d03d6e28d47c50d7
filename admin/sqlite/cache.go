package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// snapshot is the whole structure as of one version of the file.
type snapshot struct {
	version int64
	index   structure.Index
}

type projectRow struct {
	ID               string `db:"id"`
	Name             string `db:"name"`
	Secret           string `db:"secret"`
	APIKey           string `db:"api_key"`
	DefaultNamespace string `db:"default_namespace"`
	AuthURL          string `db:"auth_url"`
	PublishHookURL   string `db:"publish_hook_url"`
	EventsHookURL    string `db:"events_hook_url"`
	AllowedOrigins   string `db:"allowed_origins"`
	Anonymous        bool   `db:"anonymous"`
}

type namespaceRow struct {
	ProjectID    string `db:"project_id"`
	Name         string `db:"name"`
	Publish      bool   `db:"publish"`
	Anonymous    bool   `db:"anonymous"`
	Presence     bool   `db:"presence"`
	JoinLeave    bool   `db:"join_leave"`
	HistorySize  int    `db:"history_size"`
	HistoryTTLMS int64  `db:"history_ttl_ms"`
	Watch        bool   `db:"watch"`
}

func (r *projectRow) project() (*structure.Project, error) {
	p := &structure.Project{
		ID: r.ID, Name: r.Name, Secret: r.Secret, APIKey: r.APIKey,
		DefaultNamespace: r.DefaultNamespace, AuthURL: r.AuthURL,
		PublishHookURL: r.PublishHookURL, EventsHookURL: r.EventsHookURL,
		Anonymous: r.Anonymous,
	}
	if err := json.Unmarshal([]byte(r.AllowedOrigins), &p.AllowedOrigins); err != nil {
		return nil, fmt.Errorf("project %q: allowed_origins: %w", r.ID, err)
	}
	return p, nil
}

func (r *namespaceRow) namespace() structure.Namespace {
	return structure.Namespace{
		Name: r.Name, Publish: r.Publish, Anonymous: r.Anonymous, Presence: r.Presence,
		JoinLeave: r.JoinLeave, HistorySize: r.HistorySize,
		HistoryTTL: time.Duration(r.HistoryTTLMS) * time.Millisecond, Watch: r.Watch,
	}
}

// queryer is what loading needs: a transaction of either pool.
type queryer interface {
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	GetContext(ctx context.Context, dest any, query string, args ...any) error
}

// loadAll reads every project with its namespaces.
func loadAll(ctx context.Context, q queryer) (structure.Index, error) {
	var prows []projectRow
	if err := q.SelectContext(ctx, &prows, `SELECT id, name, secret, api_key, default_namespace,
		auth_url, publish_hook_url, events_hook_url, allowed_origins, anonymous
		FROM projects ORDER BY id`); err != nil {
		return structure.Index{}, fmt.Errorf("read projects: %w", err)
	}
	var nrows []namespaceRow
	if err := q.SelectContext(ctx, &nrows, `SELECT project_id, name, publish, anonymous, presence,
		join_leave, history_size, history_ttl_ms, watch
		FROM namespaces ORDER BY project_id, position, name`); err != nil {
		return structure.Index{}, fmt.Errorf("read namespaces: %w", err)
	}
	projects := make(map[string]*structure.Project, len(prows))
	order := make([]*structure.Project, 0, len(prows))
	for i := range prows {
		p, err := prows[i].project()
		if err != nil {
			return structure.Index{}, err
		}
		projects[p.ID] = p
		order = append(order, p)
	}
	for i := range nrows {
		if p, ok := projects[nrows[i].ProjectID]; ok {
			p.Namespaces = append(p.Namespaces, nrows[i].namespace())
		}
	}
	return structure.NewIndex(order), nil
}

// loadProject reads one project inside a write transaction.
func loadProject(ctx context.Context, q queryer, id string) (*structure.Project, error) {
	var row projectRow
	err := q.GetContext(ctx, &row, `SELECT id, name, secret, api_key, default_namespace,
		auth_url, publish_hook_url, events_hook_url, allowed_origins, anonymous
		FROM projects WHERE id = ?`, id)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("project %q: %w", id, structure.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read project %q: %w", id, err)
	}
	p, err := row.project()
	if err != nil {
		return nil, err
	}
	var nrows []namespaceRow
	if err := q.SelectContext(ctx, &nrows, `SELECT project_id, name, publish, anonymous, presence,
		join_leave, history_size, history_ttl_ms, watch
		FROM namespaces WHERE project_id = ? ORDER BY position, name`, id); err != nil {
		return nil, fmt.Errorf("read namespaces of %q: %w", id, err)
	}
	for i := range nrows {
		p.Namespaces = append(p.Namespaces, nrows[i].namespace())
	}
	return p, nil
}

func readVersion(ctx context.Context, q queryer) (int64, error) {
	var v int64
	if err := q.GetContext(ctx, &v, `SELECT version FROM structure_version WHERE id = 1`); err != nil {
		return 0, fmt.Errorf("read structure version: %w", err)
	}
	return v, nil
}

// reload reads the whole structure in one read transaction (a consistent
// snapshot of the file) and swaps it in.
func (s *Store) reload(ctx context.Context) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	tx, err := s.r.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("reload: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	v, err := readVersion(ctx, tx)
	if err != nil {
		return err
	}
	index, err := loadAll(ctx, tx)
	if err != nil {
		return err
	}
	s.snap.Store(&snapshot{version: v, index: index})
	return nil
}

// Project returns the project with the given id from memory, or
// structure.ErrNotFound. The returned value is shared and must not be modified.
func (s *Store) Project(_ context.Context, id string) (*structure.Project, error) {
	return s.snap.Load().index.Project(id)
}

// Projects returns a copy of every project, ordered by id.
func (s *Store) Projects(_ context.Context) ([]structure.Project, error) {
	_, out := s.Snapshot()
	return out, nil
}

// Snapshot returns the structure version and a copy of every project,
// ordered by id, both from the same moment: what a node copies into the
// engine for nodes on other hosts.
func (s *Store) Snapshot() (int64, []structure.Project) {
	snap := s.snap.Load()
	return snap.version, snap.index.Projects()
}

// Version returns the structure version of the in-memory copy: it moves
// with every write to the file, by any process.
func (s *Store) Version() int64 { return s.snap.Load().version }

// writeTx runs fn in an immediate transaction on the writer connection,
// bumps the structure version and, once committed, reloads the snapshot.
func (s *Store) writeTx(ctx context.Context, fn func(tx *sqlx.Tx) error) error {
	tx, err := s.w.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := fn(tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE structure_version SET version = version + 1 WHERE id = 1`); err != nil {
		return fmt.Errorf("bump structure version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := s.reload(ctx); err != nil {
		return fmt.Errorf("written, but reloading the cache failed: %w", err)
	}
	return nil
}
