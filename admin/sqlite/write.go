package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"
	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// randomToken returns 32 random bytes, base64url-encoded (43 characters):
// a project secret must be at least 32 random bytes (docs/configuration.md).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand doc)
	return base64.RawURLEncoding.EncodeToString(b)
}

func isConstraint(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrConstraint
}

func insertProjectRow(ctx context.Context, tx *sqlx.Tx, p *structure.Project) error {
	origins, err := json.Marshal(nonNil(p.AllowedOrigins))
	if err != nil {
		return fmt.Errorf("encode allowed_origins: %w", err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO projects (id, name, secret, api_key, default_namespace,
		auth_url, publish_hook_url, events_hook_url, allowed_origins, anonymous)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.Name, p.Secret, p.APIKey, p.DefaultNamespace, p.AuthURL, p.PublishHookURL,
		p.EventsHookURL, string(origins), p.Anonymous)
	if isConstraint(err) {
		return fmt.Errorf("project %q: %w", p.ID, structure.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("insert project %q: %w", p.ID, err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func insertNamespaceRow(ctx context.Context, tx *sqlx.Tx, project string, ns structure.Namespace) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO namespaces (project_id, name, publish, anonymous,
		presence, join_leave, history_size, history_ttl_ms, watch, position)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,
			(SELECT COALESCE(MAX(position), 0) + 1 FROM namespaces WHERE project_id = ?))`,
		project, ns.Name, ns.Publish, ns.Anonymous, ns.Presence, ns.JoinLeave, ns.HistorySize,
		ns.HistoryTTL.Milliseconds(), ns.Watch, project)
	if isConstraint(err) {
		return fmt.Errorf("namespace %q: %w", ns.Name, structure.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("insert namespace %q: %w", ns.Name, err)
	}
	return nil
}

// CreateProject stores a new project. Empty Secret and APIKey get fresh
// random values, an empty DefaultNamespace becomes "default", and the
// default namespace is created with the documented namespace defaults when p lacks it.
// p is updated with what was stored. A duplicate id wraps structure.ErrExists;
// invalid fields come back as joined *structure.FieldError.
func (s *Store) CreateProject(ctx context.Context, p *structure.Project) error {
	if p.Secret == "" {
		p.Secret = randomToken()
	}
	if p.APIKey == "" {
		p.APIKey = randomToken()
	}
	if p.DefaultNamespace == "" {
		p.DefaultNamespace = "default"
	}
	if _, ok := p.Namespace(""); !ok {
		p.Namespaces = append(p.Namespaces, structure.DefaultNamespaceSettings(p.DefaultNamespace))
	}
	if err := p.Validate(); err != nil {
		return fmt.Errorf("project %q: %w", p.ID, err)
	}
	return s.writeTx(ctx, func(tx *sqlx.Tx) error {
		if err := insertProjectRow(ctx, tx, p); err != nil {
			return err
		}
		for _, ns := range p.Namespaces {
			if err := insertNamespaceRow(ctx, tx, p.ID, ns); err != nil {
				return err
			}
		}
		return nil
	})
}

// UpdateProject stores the project's own fields (not its namespaces, which
// have their own methods). Empty Secret or APIKey keep the stored values.
func (s *Store) UpdateProject(ctx context.Context, p *structure.Project) error {
	return s.writeTx(ctx, func(tx *sqlx.Tx) error {
		cur, err := loadProject(ctx, tx, p.ID)
		if err != nil {
			return err
		}
		next := *p
		next.Namespaces = cur.Namespaces
		if next.Secret == "" {
			next.Secret = cur.Secret
		}
		if next.APIKey == "" {
			next.APIKey = cur.APIKey
		}
		if next.DefaultNamespace == "" {
			next.DefaultNamespace = cur.DefaultNamespace
		}
		if err := next.Validate(); err != nil {
			return fmt.Errorf("project %q: %w", p.ID, err)
		}
		origins, err := json.Marshal(nonNil(next.AllowedOrigins))
		if err != nil {
			return fmt.Errorf("encode allowed_origins: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE projects SET name = ?, secret = ?, api_key = ?,
			default_namespace = ?, auth_url = ?, publish_hook_url = ?, events_hook_url = ?,
			allowed_origins = ?, anonymous = ?,
			updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`,
			next.Name, next.Secret, next.APIKey, next.DefaultNamespace, next.AuthURL,
			next.PublishHookURL, next.EventsHookURL, string(origins), next.Anonymous, next.ID); err != nil {
			return fmt.Errorf("update project %q: %w", p.ID, err)
		}
		*p = next
		return nil
	})
}

// DeleteProject removes a project and its namespaces.
func (s *Store) DeleteProject(ctx context.Context, id string) error {
	return s.writeTx(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM projects WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("delete project %q: %w", id, err)
		}
		return mustAffect(res, fmt.Errorf("project %q: %w", id, structure.ErrNotFound))
	})
}

type affected interface{ RowsAffected() (int64, error) }

func mustAffect(res affected, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("rows affected: %w", err)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// RegenerateSecret gives the project a fresh random secret and returns it.
// Tokens signed with the old secret stop working.
func (s *Store) RegenerateSecret(ctx context.Context, id string) (string, error) {
	return s.regenerate(ctx, id, "secret")
}

// RegenerateAPIKey gives the project a fresh random API key and returns it.
func (s *Store) RegenerateAPIKey(ctx context.Context, id string) (string, error) {
	return s.regenerate(ctx, id, "api_key")
}

func (s *Store) regenerate(ctx context.Context, id, column string) (string, error) {
	v := randomToken()
	err := s.writeTx(ctx, func(tx *sqlx.Tx) error {
		// column is one of two constants above, never user input.
		res, err := tx.ExecContext(ctx, `UPDATE projects SET `+column+` = ?,
			updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`, v, id)
		if err != nil {
			return fmt.Errorf("regenerate %s of %q: %w", column, id, err)
		}
		return mustAffect(res, fmt.Errorf("project %q: %w", id, structure.ErrNotFound))
	})
	if err != nil {
		return "", err
	}
	return v, nil
}

// CreateNamespace adds a namespace to a project. A duplicate name wraps
// structure.ErrExists; invalid fields come back as *structure.FieldError named
// relative to the namespace ("history_ttl").
func (s *Store) CreateNamespace(ctx context.Context, projectID string, ns structure.Namespace) error {
	return s.writeTx(ctx, func(tx *sqlx.Tx) error {
		p, err := loadProject(ctx, tx, projectID)
		if err != nil {
			return err
		}
		if _, ok := p.Namespace(ns.Name); ok && ns.Name != "" {
			return fmt.Errorf("namespace %q: %w", ns.Name, structure.ErrExists)
		}
		p.Namespaces = append(p.Namespaces, ns)
		if err := validateNamespace(p, len(p.Namespaces)-1); err != nil {
			return err
		}
		return insertNamespaceRow(ctx, tx, projectID, ns)
	})
}

// UpdateNamespace replaces the settings of the namespace called ns.Name.
func (s *Store) UpdateNamespace(ctx context.Context, projectID string, ns structure.Namespace) error {
	return s.writeTx(ctx, func(tx *sqlx.Tx) error {
		p, err := loadProject(ctx, tx, projectID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(p.Namespaces, func(n structure.Namespace) bool { return n.Name == ns.Name })
		if i < 0 {
			return fmt.Errorf("namespace %q of project %q: %w", ns.Name, projectID, structure.ErrNotFound)
		}
		p.Namespaces[i] = ns
		if err := validateNamespace(p, i); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE namespaces SET publish = ?, anonymous = ?,
			presence = ?, join_leave = ?, history_size = ?, history_ttl_ms = ?, watch = ?
			WHERE project_id = ? AND name = ?`,
			ns.Publish, ns.Anonymous, ns.Presence, ns.JoinLeave, ns.HistorySize,
			ns.HistoryTTL.Milliseconds(), ns.Watch, projectID, ns.Name); err != nil {
			return fmt.Errorf("update namespace %q: %w", ns.Name, err)
		}
		return nil
	})
}

// DeleteNamespace removes a namespace. The project's default namespace
// cannot be deleted (a project always has one, docs/protocol.md, Concepts).
func (s *Store) DeleteNamespace(ctx context.Context, projectID, name string) error {
	return s.writeTx(ctx, func(tx *sqlx.Tx) error {
		p, err := loadProject(ctx, tx, projectID)
		if err != nil {
			return err
		}
		if name == p.DefaultNamespace {
			return &structure.FieldError{Field: "name", Message: fmt.Sprintf(
				"%q is the project's default namespace and cannot be deleted; make another namespace the default first", name)}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM namespaces WHERE project_id = ? AND name = ?`, projectID, name)
		if err != nil {
			return fmt.Errorf("delete namespace %q: %w", name, err)
		}
		return mustAffect(res, fmt.Errorf("namespace %q of project %q: %w", name, projectID, structure.ErrNotFound))
	})
}

// validateNamespace validates p and names the problems of namespace i
// relative to it; a person editing one namespace knows which one it is.
func validateNamespace(p *structure.Project, i int) error {
	err := p.Validate()
	if err == nil {
		return nil
	}
	prefix := fmt.Sprintf("namespaces[%d].", i)
	var out []error
	for _, e := range unjoin(err) {
		var fe *structure.FieldError
		if errors.As(e, &fe) && strings.HasPrefix(fe.Field, prefix) {
			out = append(out, &structure.FieldError{Field: strings.TrimPrefix(fe.Field, prefix), Message: fe.Message})
			continue
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
