package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "rotor.db")
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestMigrateEmptyAndReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub dir", "rotor.db")
	if err := mkdirAll(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	a, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open empty: %v", err)
	}
	if err := a.CreateProject(t.Context(), &structure.Project{ID: "p1", Name: "One"}); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	ownerA := a.OwnerID()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := openTest(t, path) // migrations must be a no-op now
	// The owner id belongs to the file: the same after a reopen, another
	// for another file.
	if ownerA == "" || b.OwnerID() != ownerA {
		t.Fatalf("owner id after reopen = %q, before %q", b.OwnerID(), ownerA)
	}
	if other := openTest(t, ""); other.OwnerID() == ownerA {
		t.Fatalf("two files share owner id %q", ownerA)
	}
	p, err := b.Project(t.Context(), "p1")
	if err != nil {
		t.Fatalf("Project after reopen: %v", err)
	}
	if p.Name != "One" || len(p.Namespaces) != 1 || p.Namespaces[0].Name != "default" {
		t.Fatalf("project after reopen = %+v", p)
	}
	var n int
	if err := b.r.GetContext(t.Context(), &n, `SELECT COUNT(*) FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Fatalf("schema_migrations rows = %d, want 2", n)
	}
}

func TestProjectCRUD(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, "")
	p := &structure.Project{ID: "chat", Name: "Chat", AllowedOrigins: []string{"https://a.example"}}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	if len(p.Secret) < 32 || len(p.APIKey) < 32 || p.DefaultNamespace != "default" {
		t.Fatalf("CreateProject did not fill defaults: %+v", p)
	}
	got, err := s.Project(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if got.Secret != p.Secret || got.AllowedOrigins[0] != "https://a.example" {
		t.Fatalf("Project = %+v", got)
	}
	ns := got.Namespaces[0]
	if ns != structure.DefaultNamespaceSettings("default") {
		t.Fatalf("default namespace = %+v", ns)
	}

	if err := s.CreateProject(ctx, &structure.Project{ID: "chat"}); !errors.Is(err, structure.ErrExists) {
		t.Fatalf("duplicate CreateProject err = %v, want ErrExists", err)
	}

	upd := *got
	upd.Name = "Chat 2"
	upd.Secret, upd.APIKey = "", ""
	upd.Anonymous = true
	if err := s.UpdateProject(ctx, &upd); err != nil {
		t.Fatalf("UpdateProject: %v", err)
	}
	got, _ = s.Project(ctx, "chat")
	if got.Name != "Chat 2" || !got.Anonymous || got.Secret != p.Secret || got.APIKey != p.APIKey {
		t.Fatalf("after update: %+v", got)
	}
	if err := s.UpdateProject(ctx, &structure.Project{ID: "nope"}); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("UpdateProject unknown err = %v", err)
	}

	sec, err := s.RegenerateSecret(ctx, "chat")
	if err != nil || sec == p.Secret || len(sec) < 32 {
		t.Fatalf("RegenerateSecret = %q, %v", sec, err)
	}
	key, err := s.RegenerateAPIKey(ctx, "chat")
	if err != nil || key == p.APIKey {
		t.Fatalf("RegenerateAPIKey = %q, %v", key, err)
	}
	got, _ = s.Project(ctx, "chat")
	if got.Secret != sec || got.APIKey != key {
		t.Fatalf("cache not refreshed after regenerate: %+v", got)
	}
	if _, err := s.RegenerateSecret(ctx, "nope"); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("RegenerateSecret unknown err = %v", err)
	}

	list, err := s.Projects(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("Projects = %v, %v", list, err)
	}
	if err := s.DeleteProject(ctx, "chat"); err != nil {
		t.Fatalf("DeleteProject: %v", err)
	}
	if _, err := s.Project(ctx, "chat"); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("Project after delete err = %v", err)
	}
	if err := s.DeleteProject(ctx, "chat"); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("DeleteProject twice err = %v", err)
	}
	var n int
	if err := s.r.GetContext(ctx, &n, `SELECT COUNT(*) FROM namespaces`); err != nil || n != 0 {
		t.Fatalf("namespaces left after delete = %d, %v", n, err)
	}
}

func TestNamespaceCRUD(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, "")
	if err := s.CreateProject(ctx, &structure.Project{ID: "p"}); err != nil {
		t.Fatal(err)
	}
	ns := structure.Namespace{Name: "chat", Publish: true, Presence: true, HistorySize: 10, HistoryTTL: time.Minute}
	if err := s.CreateNamespace(ctx, "p", ns); err != nil {
		t.Fatalf("CreateNamespace: %v", err)
	}
	if err := s.CreateNamespace(ctx, "p", ns); !errors.Is(err, structure.ErrExists) {
		t.Fatalf("duplicate CreateNamespace err = %v", err)
	}
	if err := s.CreateNamespace(ctx, "nope", ns); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("CreateNamespace unknown project err = %v", err)
	}
	p, _ := s.Project(ctx, "p")
	got, ok := p.Namespace("chat")
	if !ok || *got != ns {
		t.Fatalf("namespace = %+v, %v", got, ok)
	}
	ns.Watch = true
	ns.HistorySize = 0
	if err := s.UpdateNamespace(ctx, "p", ns); err != nil {
		t.Fatalf("UpdateNamespace: %v", err)
	}
	p, _ = s.Project(ctx, "p")
	if got, _ := p.Namespace("chat"); *got != ns {
		t.Fatalf("after update = %+v", got)
	}
	if err := s.UpdateNamespace(ctx, "p", structure.Namespace{Name: "zzz"}); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("UpdateNamespace unknown err = %v", err)
	}
	var fe *structure.FieldError
	if err := s.DeleteNamespace(ctx, "p", "default"); !errors.As(err, &fe) {
		t.Fatalf("DeleteNamespace default err = %v, want a FieldError", err)
	}
	if err := s.DeleteNamespace(ctx, "p", "chat"); err != nil {
		t.Fatalf("DeleteNamespace: %v", err)
	}
	if err := s.DeleteNamespace(ctx, "p", "chat"); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("DeleteNamespace twice err = %v", err)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openTest(t, "")
	if err := s.CreateProject(ctx, &structure.Project{ID: "ok"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		do    func() error
		field string
	}{
		{"bad project id", func() error { return s.CreateProject(ctx, &structure.Project{ID: "Bad Id"}) }, "id"},
		{"short secret", func() error { return s.CreateProject(ctx, &structure.Project{ID: "x", Secret: "short"}) }, "secret"},
		{"bad namespace name", func() error { return s.CreateNamespace(ctx, "ok", structure.Namespace{Name: "a b"}) }, "name"},
		{"negative history", func() error {
			return s.CreateNamespace(ctx, "ok", structure.Namespace{Name: "n", HistorySize: -1})
		}, "history_size"},
		{"history without ttl", func() error {
			return s.UpdateNamespace(ctx, "ok", structure.Namespace{Name: "default", HistorySize: 5})
		}, "history_ttl"},
		{"default namespace missing", func() error {
			return s.UpdateProject(ctx, &structure.Project{ID: "ok", DefaultNamespace: "nope"})
		}, "default_namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do()
			var fe *structure.FieldError
			if !errors.As(err, &fe) || fe.Field != tc.field {
				t.Fatalf("err = %v, want a FieldError on %q", err, tc.field)
			}
			if fe.Message == "" || strings.Contains(fe.Message, "sql") {
				t.Fatalf("message %q is not for people", fe.Message)
			}
		})
	}
}

// Two Stores on one file stand for two processes: they write at once
// without "database is locked", and each sees the other's writes via Run.
func TestTwoProcesses(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "shared.db")
	a := openTest(t, path)
	b := openTest(t, path)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	changed := make(chan struct{}, 100)
	var runs sync.WaitGroup
	runs.Go(func() { b.Run(ctx, func() { changed <- struct{}{} }) })
	runs.Go(func() { a.Run(ctx, nil) })
	defer runs.Wait()
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		for _, s := range []*Store{a, b} {
			wg.Go(func() {
				id := fmt.Sprintf("p%d-%p", i, s)
				id = strings.NewReplacer("0x", "", "-", "x").Replace(id)
				if err := s.CreateProject(t.Context(), &structure.Project{ID: id}); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent write: %v", err)
	}

	if err := a.CreateProject(t.Context(), &structure.Project{ID: "from-a", Name: "A"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(time.Second)
	for {
		if p, err := b.Project(t.Context(), "from-a"); err == nil && p.Name == "A" {
			break
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatal("store B did not see A's project within a second")
		}
	}
	list, _ := b.Projects(t.Context())
	if len(list) != 41 {
		t.Fatalf("B sees %d projects, want 41", len(list))
	}
}

func TestInvalidate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "inv.db")
	a := openTest(t, path)
	b := openTest(t, path)
	ctx, cancel := context.WithCancel(t.Context())
	var runs sync.WaitGroup
	runs.Go(func() { b.Run(ctx, nil) })
	defer runs.Wait()
	defer cancel()
	if err := a.CreateProject(t.Context(), &structure.Project{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	b.Invalidate()
	b.Invalidate() // never blocks
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := b.Project(t.Context(), "x"); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("B did not reload")
}
