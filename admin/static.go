// Package admin holds the read-only file store of the structure; the
// structure's types live in pubsub/structure.
package admin

import (
	"context"
	"fmt"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// StaticStore serves a structure read from the config file. It is
// read-only: the admin UI shows a badge and disables its forms.
type StaticStore struct {
	index structure.Index
}

// NewStaticStore validates projects and returns a read-only store of them.
func NewStaticStore(projects []structure.Project) (*StaticStore, error) {
	seen := make(map[string]bool, len(projects))
	own := make([]*structure.Project, 0, len(projects))
	for i := range projects {
		p := projects[i].Clone()
		if err := p.Validate(); err != nil {
			return nil, fmt.Errorf("project %q: %w", p.ID, err)
		}
		if seen[p.ID] {
			return nil, fmt.Errorf("project %q: duplicate id", p.ID)
		}
		seen[p.ID] = true
		own = append(own, &p)
	}
	return &StaticStore{index: structure.NewIndex(own)}, nil
}

// Project returns the project with the given id, or structure.ErrNotFound. The
// returned value is shared and must not be modified.
func (s *StaticStore) Project(_ context.Context, id string) (*structure.Project, error) {
	return s.index.Project(id)
}

// Projects returns every project in config order.
func (s *StaticStore) Projects(_ context.Context) ([]structure.Project, error) {
	return s.index.Projects(), nil
}

// ReadOnly reports true: a file structure is edited in the file.
func (s *StaticStore) ReadOnly() bool { return true }
