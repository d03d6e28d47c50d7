package e2e

import (
	"bufio"
	"bytes"
	"io"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestPasswdOnTerminal runs `rotor passwd` on a real pseudo-terminal
// (script, from Debian's essential bsdutils): it asks twice, the typed password is not echoed,
// and the printed hash matches it.
func TestPasswdOnTerminal(t *testing.T) {
	t.Parallel()
	const password = "terminal-password-123"
	cmd := exec.CommandContext(t.Context(), "script", "-q", "-e", "-c", rotorBin+" passwd", "/dev/null")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TERM=dumb"}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen bytes.Buffer
	r := bufio.NewReader(io.TeeReader(stdout, &seen))
	// Type each answer only once its prompt is shown: echo is off by then.
	waitFor := func(prompt string) {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			var got []byte
			for !bytes.HasSuffix(got, []byte(prompt)) {
				b, err := r.ReadByte()
				if err != nil {
					done <- err
					return
				}
				got = append(got, b)
			}
			done <- nil
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("waiting for %q: %v (output %q)", prompt, err, seen.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %q prompt (output %q)", prompt, seen.String())
		}
	}
	waitFor("Password: ")
	_, _ = io.WriteString(stdin, password+"\r")
	waitFor("Again: ")
	_, _ = io.WriteString(stdin, password+"\r")
	_, _ = io.ReadAll(r) // seen gets it all
	if err := cmd.Wait(); err != nil {
		t.Fatalf("rotor passwd: %v\n%s", err, seen.String())
	}
	out := seen.String()
	if strings.Contains(out, password) {
		t.Fatalf("the password was echoed: %q", out)
	}
	hash := regexp.MustCompile(`\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}`).FindString(out)
	if hash == "" {
		t.Fatalf("no bcrypt hash in %q", out)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)); err != nil {
		t.Fatalf("hash does not match: %v", err)
	}
}
