package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// docBlocks returns the fenced code blocks of the given language in the
// section of a Markdown file that starts with heading, in order.
func docBlocks(t *testing.T, doc, heading, lang string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot, doc))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("%s has no %q section", doc, heading)
	}
	s = s[i+len(heading)+2:]
	if j := strings.Index(s, "\n## "); j >= 0 {
		s = s[:j]
	}
	var blocks []string
	for {
		start := strings.Index(s, "```"+lang+"\n")
		if start < 0 {
			return blocks
		}
		s = s[start+len(lang)+4:]
		end := strings.Index(s, "```")
		blocks = append(blocks, s[:end])
		s = s[end+3:]
	}
}

// docCommand is one line of a shell block: its words, and the file its
// standard output is redirected to ("" for none).
type docCommand struct {
	args   []string
	stdout string
}

// parseCommands reads the simple command lines of a shell block: words,
// an optional "> file" and a trailing comment. Anything else (pipes,
// quotes, substitutions) fails the test, so the doc stays runnable.
func parseCommands(t *testing.T, block string) []docCommand {
	t.Helper()
	var out []docCommand
	for line := range strings.Lines(block) {
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		if strings.ContainsAny(line, "|&;$`'\"\\<") {
			t.Fatalf("command %q is more than words and a redirect", line)
		}
		c := docCommand{args: words}
		if n := len(words); n >= 2 && words[n-2] == ">" {
			c.args, c.stdout = words[:n-2], words[n-1]
		}
		out = append(out, c)
	}
	return out
}

// TestFirstRunFromDeployDoc runs the "Configure" steps of docs/deploy.md
// as written, in an empty directory: genconfig, checkconfig, serve, then
// token. The token connects to the generated project and its api_key
// publishes, at the addresses the doc's curl lines use.
func TestFirstRunFromDeployDoc(t *testing.T) {
	t.Parallel()
	shell := docBlocks(t, "docs/deploy.md", "## Configure", "sh")
	if len(shell) < 2 {
		t.Fatalf("docs/deploy.md Configure has %d sh blocks, want the server steps and the token step", len(shell))
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	// The doc's server listens on :8000; the test only moves it to a free
	// port, through the environment so the command lines stay as written.
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "ROTOR_HTTP_ADDRESS=" + addr}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()

	run := func(c docCommand) string {
		t.Helper()
		if c.args[0] != "rotor" {
			t.Fatalf("doc command %q does not run rotor", c.args)
		}
		cmd := exec.CommandContext(ctx, rotorBin, c.args[1:]...)
		cmd.Dir, cmd.Env = dir, env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c.args, " "), err, stderr.String())
		}
		if c.stdout != "" {
			if err := os.WriteFile(filepath.Join(dir, c.stdout), stdout.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return stdout.String()
	}

	served := false
	for _, c := range parseCommands(t, shell[0]) {
		if len(c.args) > 1 && c.args[1] == "serve" {
			cmd := exec.CommandContext(ctx, rotorBin, c.args[1:]...)
			cmd.Dir, cmd.Env = dir, env
			var logs bytes.Buffer
			cmd.Stdout, cmd.Stderr = &logs, &logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				cancel()
				_ = cmd.Wait()
				if t.Failed() {
					t.Logf("serve output:\n%s", logs.String())
				}
			})
			served = true
			continue
		}
		run(c)
	}
	if !served {
		t.Fatal("the first Configure block does not run rotor serve")
	}
	if _, err := os.Stat(filepath.Join(dir, "rotor.db")); err == nil {
		t.Error("the generated config created rotor.db; it should need no database")
	}

	var token string
	for _, c := range parseCommands(t, shell[1]) {
		token = strings.TrimSpace(run(c))
	}
	if strings.Count(token, ".") != 2 {
		t.Fatalf("rotor token printed %q, want a JWT", token)
	}

	conf, err := os.ReadFile(filepath.Join(dir, "rotor.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+api_key: "([^"]+)"`).FindSubmatch(conf)
	if m == nil {
		t.Fatal("rotor.yaml has no project api_key")
	}
	apiKey := string(m[1])

	// The curl lines of the doc, with its placeholders filled in.
	text := docBlocks(t, "docs/deploy.md", "## Configure", "text")
	if len(text) == 0 {
		t.Fatal("docs/deploy.md Configure has no curl block")
	}
	urls := regexp.MustCompile(`http://localhost:8000(/[^\s']+)`).FindAllStringSubmatch(text[0], -1)
	if len(urls) != 2 {
		t.Fatalf("curl block has %d URLs, want the stream and the publish", len(urls))
	}
	base := "http://" + addr
	streamURL := base + strings.ReplaceAll(urls[0][1], "<TOKEN>", token)
	publishURL := base + urls[1][1]
	body := regexp.MustCompile(`-d '([^']+)'`).FindStringSubmatch(text[0])
	if body == nil {
		t.Fatal("curl block has no publish body")
	}

	var stream *http.Response
	eventually(t, 20*time.Second, "the SSE stream opens", func() bool {
		resp, err := http.Get(streamURL)
		if err != nil {
			return false
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("stream: %d %s", resp.StatusCode, b)
			return false
		}
		stream = resp
		return true
	})
	defer stream.Body.Close()
	lines := bufio.NewScanner(stream.Body)
	waitLine := func(prefix string) string {
		for lines.Scan() {
			if strings.HasPrefix(lines.Text(), prefix) {
				return lines.Text()
			}
		}
		t.Fatalf("stream ended before %q: %v", prefix, lines.Err())
		return ""
	}
	waitLine("event: sub")

	req, _ := http.NewRequest(http.MethodPost, publishURL, strings.NewReader(body[1]))
	req.Header.Set("Authorization", "apikey "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("publish with the generated api_key: %d %s", resp.StatusCode, b)
	}
	waitLine("event: pub")
	if data := waitLine("data: "); !strings.Contains(data, `"text":"hello"`) {
		t.Fatalf("pub data = %s", data)
	}
}

// TestSQLiteStoreWarnsOfIgnoredProjects switches a generated config to
// the SQLite store: serve says that the file's projects are ignored
// rather than answering "unknown project" without a word, and creates
// rotor.db readable by its owner only.
func TestSQLiteStoreWarnsOfIgnoredProjects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	gen := exec.Command(rotorBin, "genconfig")
	conf, err := gen.Output()
	if err != nil {
		t.Fatal(err)
	}
	conf = bytes.Replace(conf, []byte("  store: file\n"), []byte("  store: sqlite\n"), 1)
	if err := os.WriteFile(filepath.Join(dir, "rotor.yaml"), conf, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, rotorBin, "serve", "--config", "rotor.yaml")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "ROTOR_HTTP_ADDRESS=" + addr}
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	eventually(t, 20*time.Second, "serve warns of the ignored projects", func() bool {
		return strings.Contains(logs.String(), "structure.projects is ignored")
	})
	fi, err := os.Stat(filepath.Join(dir, "rotor.db"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("rotor.db has mode %v, want 0600", perm)
	}
}
