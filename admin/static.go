package admin

import (
	"context"
	"fmt"
	"slices"
)

// StaticStore serves a structure read from the config file. It is
// read-only: the admin UI shows a badge and disables its forms.
type StaticStore struct {
	projects map[string]*Project
	order    []string
}

// NewStaticStore validates projects and returns a read-only store of them.
func NewStaticStore(projects []Project) (*StaticStore, error) {
	s := &StaticStore{projects: make(map[string]*Project, len(projects))}
	for i := range projects {
		p := projects[i]
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("project %q: %w", p.ID, err)
		}
		if _, dup := s.projects[p.ID]; dup {
			return nil, fmt.Errorf("project %q: duplicate id", p.ID)
		}
		p.AllowedOrigins = slices.Clone(p.AllowedOrigins)
		p.Namespaces = slices.Clone(p.Namespaces)
		s.projects[p.ID] = &p
		s.order = append(s.order, p.ID)
	}
	return s, nil
}

// Project returns the project with the given id, or ErrNotFound. The
// returned value is shared and must not be modified.
func (s *StaticStore) Project(_ context.Context, id string) (*Project, error) {
	p, ok := s.projects[id]
	if !ok {
		return nil, fmt.Errorf("project %q: %w", id, ErrNotFound)
	}
	return p, nil
}

// Projects returns every project in config order.
func (s *StaticStore) Projects(_ context.Context) ([]Project, error) {
	out := make([]Project, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.projects[id])
	}
	return out, nil
}

// ReadOnly reports true: a file structure is edited in the file.
func (s *StaticStore) ReadOnly() bool { return true }
