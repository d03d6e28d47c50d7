package e2e

import (
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// trackedFiles returns the text of every file git tracks, by path: the
// repository a reader gets. Binary files (screenshots) are left out.
// Callers range over it in sorted order (slices.Sorted(maps.Keys(…))) so
// failures read in file order.
func trackedFiles(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("git", "-C", moduleRoot, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	names := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(names) < 100 {
		// A broken listing would make the tests pass without looking.
		t.Fatalf("git ls-files listed %d files; expected the whole repository", len(names))
	}
	files := make(map[string]string, len(names))
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(moduleRoot, name))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet committed
			}
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) < 0 {
			files[name] = string(b)
		}
	}
	return files
}

// citation matches references to documents a reader of the repository does
// not have: the original product brief, its style notes and the tracker's
// issue numbers. The repository's contract is docs/ (protocol.md,
// configuration.md, security.md, …); code and docs cite those pages instead.
// The words are split with a character class so this file does not match
// itself.
var citation = regexp.MustCompile(`\bSP[E]C\b|\bST[Y]LE(\.md|:)|(?i)\bissues? #?[0-9]+`)

// TestNoExternalCitations fails, naming file:line, for every tracked text
// file that cites the product brief, its style notes or an issue number.
func TestNoExternalCitations(t *testing.T) {
	t.Parallel()
	files := trackedFiles(t)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		for i, line := range strings.Split(files[name], "\n") {
			if m := citation.FindString(line); m != "" {
				t.Errorf("%s:%d: cites %q, which a reader of the repository cannot open; "+
					"cite the docs/ page and section that states the rule: %s",
					name, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}

// docPage matches a citation of a docs page; docReference one followed by
// a section name ("docs/protocol.md, Long poll"): what code and docs cite
// instead of the external documents.
var docPage = regexp.MustCompile(`docs/[a-z0-9-]+\.(?:md|yaml)`)

var docReference = regexp.MustCompile(`docs/([a-z0-9-]+\.(?:md|yaml))(?:, ([A-Z][^,;:)|"]*))?`)

// TestDocReferences fails when a tracked file cites a docs page that does
// not exist, or a section (a capitalized name after the page) that no
// heading of that page contains, so the citations that replaced the
// external ones cannot rot when a page or heading is renamed.
func TestDocReferences(t *testing.T) {
	t.Parallel()
	files := trackedFiles(t)
	headings := map[string][]string{}
	for name, text := range files {
		if !strings.HasPrefix(name, "docs/") {
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "#") && strings.HasSuffix(name, ".md") {
				headings[name] = append(headings[name], strings.ToLower(line))
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		for i, line := range strings.Split(files[name], "\n") {
			for _, page := range docPage.FindAllString(line, -1) {
				if _, ok := files[page]; !ok {
					t.Errorf("%s:%d: cites %s, which is not in the repository", name, i+1, page)
				}
			}
			for _, m := range docReference.FindAllStringSubmatch(line, -1) {
				page := "docs/" + m[1]
				if _, ok := files[page]; !ok || m[2] == "" {
					continue
				}
				// "Private channels and Hooks" names two sections.
				for _, section := range strings.Split(strings.TrimSpace(m[2]), " and ") {
					if strings.HasPrefix(section, "docs/") {
						continue // another page, checked above
					}
					if !slices.ContainsFunc(headings[page], func(h string) bool {
						return strings.Contains(h, strings.ToLower(section))
					}) {
						t.Errorf("%s:%d: cites section %q of %s, which no heading there contains", name, i+1, section, page)
					}
				}
			}
		}
	}
}
