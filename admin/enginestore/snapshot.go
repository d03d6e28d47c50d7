// Package enginestore carries Rotor's structure (projects and namespaces)
// through the engine, for nodes on hosts that cannot open the SQLite file
// (docs/scaling.md, One structure for every host).
//
// The node that owns the SQLite file runs a Publisher: it writes a
// versioned snapshot of the whole structure into the engine at start,
// after every change and whenever the engine lost it. Nodes with
// structure.store: engine read it with a Store, which is read-only and
// follows each new version.
package enginestore

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Format is the version of the snapshot encoding. A reader refuses a
// snapshot of another format rather than guess at it.
const Format = 1

// Snapshot is the whole structure as of one version of the owner's file.
// Encoded, it is JSON: secrets and API keys travel as they are stored, in
// clear, so whoever may read the engine may read them.
type Snapshot struct {
	Format int `json:"format"`
	// Version is the owner's structure version: it moves with every write
	// to its SQLite file, and stays the same across restarts.
	Version int64 `json:"version"`
	// Owner is the random id of the owner's SQLite file.
	Owner string `json:"owner"`
	// Node names the node that wrote it, for people: host and node id.
	Node string `json:"node"`
	// Written is when it was written.
	Written  time.Time           `json:"written"`
	Projects []structure.Project `json:"projects"`
}

// Encode returns the snapshot's engine form.
func Encode(s *Snapshot) ([]byte, error) {
	c := *s
	c.Format = Format
	if c.Projects == nil {
		c.Projects = []structure.Project{}
	}
	b, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode structure snapshot: %w", err)
	}
	return b, nil
}

// Decode parses a snapshot and validates every project in it, so that a
// reader never serves a structure the owner could not have stored.
func Decode(b []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode structure snapshot: %w", err)
	}
	if s.Format != Format {
		return nil, fmt.Errorf("structure snapshot: format %d, this node reads %d: upgrade the nodes to the owner's version", s.Format, Format)
	}
	if s.Version <= 0 {
		return nil, fmt.Errorf("structure snapshot: version %d must be positive", s.Version)
	}
	seen := make(map[string]bool, len(s.Projects))
	var errs []error
	for i := range s.Projects {
		p := &s.Projects[i]
		if err := p.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("project %q: %w", p.ID, err))
		}
		if seen[p.ID] {
			errs = append(errs, fmt.Errorf("project %q: duplicate id", p.ID))
		}
		seen[p.ID] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("structure snapshot version %d: %w", s.Version, err)
	}
	return &s, nil
}
