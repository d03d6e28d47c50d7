package structure

import (
	"errors"
	"testing"
)

// TestIndex: lookups by id, the given order kept, ErrNotFound for an
// unknown id, and listed copies that do not reach into the index.
func TestIndex(t *testing.T) {
	b := &Project{ID: "b", AllowedOrigins: []string{"https://b.example"}}
	a := &Project{ID: "a", Namespaces: []Namespace{{Name: "chat"}}}
	x := NewIndex([]*Project{b, a})
	if x.Len() != 2 {
		t.Fatalf("Len = %d, want 2", x.Len())
	}
	if p, err := x.Project("a"); err != nil || p != a {
		t.Fatalf("Project(a) = %v, %v", p, err)
	}
	if _, err := x.Project("c"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Project(c) error = %v, want ErrNotFound", err)
	}
	list := x.Projects()
	if len(list) != 2 || list[0].ID != "b" || list[1].ID != "a" {
		t.Fatalf("Projects order = %v", list)
	}
	list[0].AllowedOrigins[0] = "changed"
	list[1].Namespaces[0].Name = "changed"
	if b.AllowedOrigins[0] != "https://b.example" || a.Namespaces[0].Name != "chat" {
		t.Fatal("a listed copy shares its slices with the index")
	}
}
