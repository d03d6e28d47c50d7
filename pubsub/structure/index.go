package structure

import (
	"fmt"
	"slices"
)

// Index is a structure held in memory: its projects by id, in a fixed
// order. Every store serves its reads from one (the file store, the SQLite
// store's cache, the engine store's snapshot).
type Index struct {
	byID  map[string]*Project
	order []string
}

// NewIndex indexes projects in the order given. It keeps the pointers:
// the projects must not be modified afterwards.
func NewIndex(projects []*Project) Index {
	x := Index{byID: make(map[string]*Project, len(projects)), order: make([]string, 0, len(projects))}
	for _, p := range projects {
		x.byID[p.ID] = p
		x.order = append(x.order, p.ID)
	}
	return x
}

// Project returns the project with the given id, or ErrNotFound. The
// returned value is shared and must not be modified.
func (x Index) Project(id string) (*Project, error) {
	p, ok := x.byID[id]
	if !ok {
		return nil, fmt.Errorf("project %q: %w", id, ErrNotFound)
	}
	return p, nil
}

// Projects returns a copy of every project in the index's order; the
// copies' slices are the caller's own.
func (x Index) Projects() []Project {
	out := make([]Project, 0, len(x.order))
	for _, id := range x.order {
		out = append(out, x.byID[id].Clone())
	}
	return out
}

// Len is the number of projects.
func (x Index) Len() int { return len(x.order) }

// Clone returns a copy of p whose slices are the caller's own.
func (p *Project) Clone() Project {
	c := *p
	c.AllowedOrigins = slices.Clone(p.AllowedOrigins)
	c.Namespaces = slices.Clone(p.Namespaces)
	return c
}
