package redis

import "testing"

// TestPutStructure: the newest version wins between owners, an owner's
// own snapshot is always its to replace, and an unchanged one is not
// written again.
func TestPutStructure(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e := newEngine(t, srv.URL(), "")
	ctx := t.Context()
	if v, owner, err := e.Structure().StructureHead(ctx); err != nil || v != 0 || owner != "" {
		t.Fatalf("head of nothing = %d %q %v", v, owner, err)
	}
	if v, _, data, err := e.Structure().GetStructure(ctx); err != nil || v != 0 || data != nil {
		t.Fatalf("get of nothing = %d %q %v", v, data, err)
	}
	steps := []struct {
		name      string
		version   int64
		owner     string
		prevV     int64
		prevOwner string
		written   bool
		holdV     int64
		holdOwner string
	}{
		{"first", 5, "a", 0, "", true, 5, "a"},
		{"same owner, same version", 5, "a", 5, "a", false, 5, "a"},
		{"same owner, newer", 6, "a", 5, "a", true, 6, "a"},
		{"same owner, older (its file was replaced)", 2, "a", 6, "a", true, 2, "a"},
		{"other owner, newer", 3, "b", 2, "a", true, 3, "b"},
		{"other owner, same version", 3, "a", 3, "b", false, 3, "b"},
		{"other owner, older", 1, "a", 3, "b", false, 3, "b"},
	}
	for _, s := range steps {
		data := []byte(s.name)
		prevV, prevOwner, written, err := e.Structure().PutStructure(ctx, s.version, s.owner, data)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if prevV != s.prevV || prevOwner != s.prevOwner || written != s.written {
			t.Fatalf("%s: put = %d %q %v, want %d %q %v", s.name, prevV, prevOwner, written, s.prevV, s.prevOwner, s.written)
		}
		v, owner, got, err := e.Structure().GetStructure(ctx)
		if err != nil || v != s.holdV || owner != s.holdOwner {
			t.Fatalf("%s: holds %d %q %v, want %d %q", s.name, v, owner, err, s.holdV, s.holdOwner)
		}
		if s.written && string(got) != s.name {
			t.Fatalf("%s: data %q", s.name, got)
		}
		if hv, ho, err := e.Structure().StructureHead(ctx); err != nil || hv != v || ho != owner {
			t.Fatalf("%s: head %d %q %v, get %d %q", s.name, hv, ho, err, v, owner)
		}
	}
}
