package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

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
	out, err := exec.Command("git", "-C", moduleRoot, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 100 {
		// A broken listing would make the test pass without looking.
		t.Fatalf("git ls-files listed %d files; expected the whole repository", len(files))
	}
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(moduleRoot, name))
		if err != nil {
			if os.IsNotExist(err) {
				continue // deleted in the work tree, not yet committed
			}
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 {
			continue // binary (screenshots)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if m := citation.FindString(line); m != "" {
				t.Errorf("%s:%d: cites %q, which a reader of the repository cannot open; "+
					"cite the docs/ page and section that states the rule: %s",
					name, i+1, m, strings.TrimSpace(line))
			}
		}
	}
}
