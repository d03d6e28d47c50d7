// Package admin holds the read-only file store of the structure; the
// structure's types live in pubsub/structure.
package admin

import (
	"context"
	"fmt"
	"slices"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// StaticStore serves a structure read from the config file. It is
// read-only: the admin UI shows a badge and disables its forms.
type StaticStore struct {
	projects map[string]*structure.Project
	order    []string
}

// NewStaticStore validates projects and returns a read-only store of them.
func NewStaticStore(projects []structure.Project) (*StaticStore, error) {
	s := &StaticStore{projects: make(map[string]*structure.Project, len(projects))}
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

// Project returns the project with the given id, or structure.ErrNotFound. The
// returned value is shared and must not be modified.
func (s *StaticStore) Project(_ context.Context, id string) (*structure.Project, error) {
	p, ok := s.projects[id]
	if !ok {
		return nil, fmt.Errorf("project %q: %w", id, structure.ErrNotFound)
	}
	return p, nil
}

// Projects returns every project in config order.
func (s *StaticStore) Projects(_ context.Context) ([]structure.Project, error) {
	out := make([]structure.Project, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, *s.projects[id])
	}
	return out, nil
}

// ReadOnly reports true: a file structure is edited in the file.
func (s *StaticStore) ReadOnly() bool { return true }
