package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// TestDatabaseFilesArePrivate checks that a new database and its WAL and
// shared-memory files are created mode 0600, even under the common umask
// 022 that would leave a plain create world-readable. Not parallel: the
// umask is per process.
func TestDatabaseFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "rotor.db")
	s := openTest(t, path)
	if err := s.CreateProject(t.Context(), &structure.Project{ID: "p1", Name: "One"}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(name), err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(name), perm)
		}
	}
}
