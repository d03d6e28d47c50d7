package node

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rotor-rt/rotor/admin/sqlite"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// TestAPIKeyIndexFollowsStoreVersion: a project created in a versioned
// store is found by its key at once, even right after a miss rebuilt the
// index and before any change notice arrived.
func TestAPIKeyIndexFollowsStoreVersion(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rotor.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	x := newAPIKeyIndex(store)
	if _, err := x.lookup(ctx, "unknown"); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("lookup of an unknown key = %v", err)
	}
	p := &structure.Project{ID: "shop"}
	if err := store.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	got, err := x.lookup(ctx, p.APIKey)
	if err != nil || got.ID != "shop" {
		t.Fatalf("lookup of the new project's key = %v, %v", got, err)
	}
}
