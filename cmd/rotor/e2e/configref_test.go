package e2e

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/rotor-rt/rotor/cmd/rotor/config"
)

var update = flag.Bool("update", false, "rewrite docs/config-reference.yaml from config.Generate")

// referenceHeader opens docs/config-reference.yaml.
const referenceHeader = "# Rotor configuration reference, generated from config.Generate (what\n" +
	"# `rotor genconfig` prints) by `go generate ./cmd/rotor/e2e`. Do not edit:\n" +
	"# change cmd/rotor/config/generate.go and regenerate. The secrets below are\n" +
	"# placeholders; `rotor genconfig` writes fresh random ones.\n\n"

// randomSecret matches the quoted values config.NewSecret makes: 32 random
// bytes, base64url without padding.
var randomSecret = regexp.MustCompile(`"[A-Za-z0-9_-]{43}"`)

// TestConfigReference fails when docs/config-reference.yaml no longer
// matches config.Generate, ignoring the random secrets. Regenerate with
// `go generate ./cmd/rotor/e2e` (or this test with -update).
func TestConfigReference(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := config.Generate(&b); err != nil {
		t.Fatal(err)
	}
	want := referenceHeader + randomSecret.ReplaceAllString(b.String(), `"<random: rotor genconfig makes one>"`)
	path := filepath.Join(moduleRoot, "docs", "config-reference.yaml")
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v: run `go generate ./cmd/rotor/e2e`", err)
	}
	if string(got) != want {
		t.Errorf("docs/config-reference.yaml is stale: run `go generate ./cmd/rotor/e2e`")
	}
}
