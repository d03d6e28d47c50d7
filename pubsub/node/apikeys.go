package node

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"sync"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// apiKeyIndex finds a project by its API key. It maps the SHA-256 of each
// key to the project id, so a lookup compares digests, never the key
// itself, and its timing tells nothing about the key.
type apiKeyIndex struct {
	store ProjectStore

	mu      sync.Mutex
	byHash  map[[32]byte]string
	built   time.Time
	invalid bool
	// version is the store's version the index was built from, for stores
	// that have one: a new version is seen at once, without waiting for
	// the change notice or rebuildEvery.
	version int64
}

// versioned is the optional part of a ProjectStore whose structure has a
// version that moves with every change (the SQLite and engine stores).
type versioned interface{ Version() int64 }

// storeVersion returns the store's version, or 0 when it has none.
func (x *apiKeyIndex) storeVersion() int64 {
	if v, ok := x.store.(versioned); ok {
		return v.Version()
	}
	return 0
}

func newAPIKeyIndex(store ProjectStore) *apiKeyIndex {
	return &apiKeyIndex{store: store, invalid: true}
}

func (x *apiKeyIndex) invalidate() {
	x.mu.Lock()
	x.invalid = true
	x.mu.Unlock()
}

// rebuildEvery bounds how often a miss may rebuild the index, so random
// keys cannot make every request list the projects.
const rebuildEvery = time.Second

// lookup returns the project whose API key is key, or structure.ErrNotFound.
func (x *apiKeyIndex) lookup(ctx context.Context, key string) (*structure.Project, error) {
	h := sha256.Sum256([]byte(key))
	x.mu.Lock()
	defer x.mu.Unlock()
	id, ok := x.byHash[h]
	if !ok && (x.invalid || x.version != x.storeVersion() || time.Since(x.built) > rebuildEvery) {
		if err := x.rebuildLocked(ctx); err != nil {
			return nil, err
		}
		id, ok = x.byHash[h]
	}
	if !ok {
		return nil, structure.ErrNotFound
	}
	p, err := x.store.Project(ctx, id)
	if err != nil {
		return nil, err
	}
	// The key may have been regenerated since the index was built.
	if subtle.ConstantTimeCompare([]byte(p.APIKey), []byte(key)) != 1 {
		x.invalid = true
		return nil, structure.ErrNotFound
	}
	return p, nil
}

func (x *apiKeyIndex) rebuildLocked(ctx context.Context) error {
	version := x.storeVersion()
	projects, err := x.store.Projects(ctx)
	if err != nil {
		return fmt.Errorf("list projects for API keys: %w", err)
	}
	m := make(map[[32]byte]string, len(projects))
	for _, p := range projects {
		if p.APIKey != "" {
			m[sha256.Sum256([]byte(p.APIKey))] = p.ID
		}
	}
	x.byHash, x.built, x.invalid, x.version = m, time.Now(), false, version
	return nil
}
