package e2e

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The structural limits a change is reviewed against, checked here so that
// they hold between reviews: docs/architecture.md, Structural limits
const (
	// maxMethods is the most methods one type may declare: past it, a
	// type owns more than one thing and a collaborator type is due.
	maxMethods = 30
	// maxTransportLines bounds the transport package's own non-test lines;
	// generic code goes into a subpackage of transport with its tests.
	maxTransportLines = 2000
)

// httpImporters are the directories (each with its subdirectories) whose
// Go files may import net/http or a package under it: the HTTP edge, the
// admin UI, the command with its wiring, CLI and load generator, and docs.
// The runtime (pubsub/...) and everything else never do.
var httpImporters = []string{"transport", "admin/web", "cmd/rotor", "docs"}

// goFiles returns the module's Go files, tracked or new but not ignored,
// by slash path relative to the module root.
func goFiles(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("git", "-C", moduleRoot, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.go").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var names []string
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if name == "" || strings.Contains("/"+name, "/testdata/") {
			continue
		}
		if _, err := os.Stat(filepath.Join(moduleRoot, name)); err != nil {
			continue // deleted in the work tree, not yet committed
		}
		names = append(names, name)
	}
	if len(names) < 100 {
		// A broken listing would make the checks pass without looking.
		t.Fatalf("listed %d Go files; expected the whole module", len(names))
	}
	slices.Sort(names)
	return names
}

// methodCounts counts the methods declared on each type, by "dir.Type".
// Test files are left out: their helper types are not the design.
func methodCounts(files map[string]*ast.File) map[string]int {
	counts := make(map[string]int)
	for name, f := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
				continue
			}
			if typ := receiverType(fn.Recv.List[0].Type); typ != "" {
				counts[path.Dir(name)+"."+typ]++
			}
		}
	}
	return counts
}

// receiverType returns the name of a receiver's type: T, *T, T[P] or *T[P].
func receiverType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.ParenExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}

// tooManyMethods lists the types of counts over maxMethods, sorted.
func tooManyMethods(counts map[string]int) []string {
	var over []string
	for _, typ := range slices.Sorted(maps.Keys(counts)) {
		if counts[typ] > maxMethods {
			over = append(over, fmt.Sprintf("%s has %d methods", typ, counts[typ]))
		}
	}
	return over
}

// httpImport returns the net/http package a file at name imports outside
// httpImporters, or "".
func httpImport(name string, f *ast.File) string {
	for _, dir := range httpImporters {
		if strings.HasPrefix(name, dir+"/") {
			return ""
		}
	}
	for _, imp := range f.Imports {
		p, err := strconv.Unquote(imp.Path.Value)
		if err == nil && (p == "net/http" || strings.HasPrefix(p, "net/http/")) {
			return p
		}
	}
	return ""
}

// transportLines counts the lines (as wc -l does) of the transport
// package's own non-test files among srcs, and the files counted.
func transportLines(srcs map[string][]byte) (lines, files int) {
	for name, src := range srcs {
		if path.Dir(name) == "transport" && !strings.HasSuffix(name, "_test.go") {
			lines += bytes.Count(src, []byte("\n"))
			files++
		}
	}
	return lines, files
}

// parseFiles parses srcs, by slash path relative to the module root.
func parseFiles(t *testing.T, srcs map[string][]byte) map[string]*ast.File {
	t.Helper()
	fset := gotoken.NewFileSet()
	files := make(map[string]*ast.File, len(srcs))
	for name, src := range srcs {
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
	}
	return files
}

// TestStructuralLimits fails, naming the type or file, when a type
// declares more than maxMethods methods, when a package outside
// httpImporters imports net/http, or when the transport package's own
// non-test lines reach maxTransportLines.
func TestStructuralLimits(t *testing.T) {
	t.Parallel()
	names := goFiles(t)
	srcs := make(map[string][]byte, len(names))
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(moduleRoot, name))
		if err != nil {
			t.Fatal(err)
		}
		srcs[name] = b
	}
	files := parseFiles(t, srcs)

	counts := methodCounts(files)
	// The counter must see the code it guards: node.Node sits at the limit.
	if n := counts["pubsub/node.Node"]; n < maxMethods-5 {
		t.Fatalf("counted %d methods of pubsub/node.Node; the counter is not looking", n)
	}
	for _, over := range tooManyMethods(counts) {
		t.Errorf("%s, more than %d: put the new ones on a collaborator type that owns their state", over, maxMethods)
	}

	for _, name := range names {
		if p := httpImport(name, files[name]); p != "" {
			t.Errorf("%s imports %s; only %s (and their subpackages) may", name, p, strings.Join(httpImporters, ", "))
		}
	}

	lines, counted := transportLines(srcs)
	if counted < 10 {
		t.Fatalf("counted %d files of package transport; the listing is not looking", counted)
	}
	if lines >= maxTransportLines {
		t.Errorf("package transport has %d non-test lines, %d allowed: move generic code into a subpackage of transport with its own tests", lines, maxTransportLines-1)
	}
}

// TestStructuralLimitsCatch: each check of TestStructuralLimits fails on
// code that breaks its limit and passes code that keeps it, so that a
// green run means something.
func TestStructuralLimitsCatch(t *testing.T) {
	t.Parallel()
	// methods declares n methods M<from>… on recv, pointer and value
	// receivers alternating.
	methods := func(recv string, from, n int) string {
		var b strings.Builder
		b.WriteString("package x\n")
		for i := from; i < from+n; i++ {
			if i%2 == 0 {
				fmt.Fprintf(&b, "func (*%s) M%d() {}\n", recv, i)
			} else {
				fmt.Fprintf(&b, "func (%s) M%d() {}\n", recv, i)
			}
		}
		return b.String()
	}
	parse := func(t *testing.T, srcs map[string]string) map[string]*ast.File {
		t.Helper()
		bs := make(map[string][]byte, len(srcs))
		for name, src := range srcs {
			bs[name] = []byte(src)
		}
		return parseFiles(t, bs)
	}
	for _, tt := range []struct {
		name string
		srcs map[string]string
		over int
	}{
		{"at the limit", map[string]string{"pubsub/x/a.go": methods("T", 0, maxMethods)}, 0},
		{"one over", map[string]string{"pubsub/x/a.go": methods("T", 0, maxMethods+1)}, 1},
		{"over across files", map[string]string{"pubsub/x/a.go": methods("T", 0, 20), "pubsub/x/b.go": methods("T", 20, 11)}, 1},
		{"same name in two packages", map[string]string{"pubsub/x/a.go": methods("T", 0, 20), "pubsub/y/a.go": methods("T", 0, 20)}, 0},
		{"generic receiver", map[string]string{"pubsub/x/a.go": methods("G[P]", 0, maxMethods+1)}, 1},
		{"test files left out", map[string]string{"pubsub/x/a_test.go": methods("T", 0, maxMethods+1)}, 0},
	} {
		t.Run("methods "+tt.name, func(t *testing.T) {
			if got := tooManyMethods(methodCounts(parse(t, tt.srcs))); len(got) != tt.over {
				t.Errorf("got %v, want %d types over", got, tt.over)
			}
		})
	}
	for _, tt := range []struct {
		name, file, imp string
		flagged         bool
	}{
		{"pubsub", "pubsub/x.go", "net/http", true},
		{"pubsub/node test", "pubsub/node/x_test.go", "net/http/httptest", true},
		{"pubsub/redis", "pubsub/redis/x.go", "net/http", true},
		{"admin/sqlite", "admin/sqlite/x.go", "net/http", true},
		{"a name that only starts like transport", "transporter/x.go", "net/http", true},
		{"pubsub, no http", "pubsub/x.go", "net/url", false},
		{"transport", "transport/x.go", "net/http", false},
		{"transport subpackage", "transport/hooks/x.go", "net/http/httptrace", false},
		{"admin/web", "admin/web/x.go", "net/http", false},
		{"cmd/rotor", "cmd/rotor/x.go", "net/http", false},
		{"cmd/rotor subpackage", "cmd/rotor/loadgen/x.go", "net/http", false},
		{"docs", "docs/x.go", "net/http", false},
	} {
		t.Run("net/http "+tt.name, func(t *testing.T) {
			files := parse(t, map[string]string{tt.file: fmt.Sprintf("package x\nimport _ %q\n", tt.imp)})
			if got := httpImport(tt.file, files[tt.file]) != ""; got != tt.flagged {
				t.Errorf("%s importing %s: flagged %v, want %v", tt.file, tt.imp, got, tt.flagged)
			}
		})
	}
	t.Run("transport lines", func(t *testing.T) {
		body := strings.Repeat("\n", maxTransportLines-2)
		srcs := map[string][]byte{
			"transport/a.go":         []byte("package transport\n" + body),
			"transport/a_test.go":    []byte("package transport\n" + body),
			"transport/sub/a.go":     []byte("package sub\n" + body),
			"transporter/a.go":       []byte("package transporter\n" + body),
			"cmd/rotor/transport.go": []byte("package main\n" + body),
		}
		if lines, files := transportLines(srcs); lines != maxTransportLines-1 || files != 1 {
			t.Fatalf("counted %d lines in %d files, want %d in 1", lines, files, maxTransportLines-1)
		}
		srcs["transport/b.go"] = []byte("package transport\n")
		if lines, _ := transportLines(srcs); lines < maxTransportLines {
			t.Fatalf("one more line counted as %d", lines)
		}
	})
}
