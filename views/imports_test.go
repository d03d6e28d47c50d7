package views

import (
	"go/build"
	"strings"
	"testing"
)

// TestImportsNoRotorPackage keeps views a leaf: its templates render view
// models of its own, which admin/web builds from admin and pubsub values.
// An import of a Rotor package (admin, pubsub, ...) would make the
// dependency run back up from the pages to the domain.
func TestImportsNoRotorPackage(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/rotor-rt/rotor"
	for _, imp := range pkg.Imports {
		if imp == module || strings.HasPrefix(imp, module+"/") {
			t.Errorf("views imports %s: give the page a view model field instead, and fill it in admin/web/viewmodel.go", imp)
		}
	}
}
