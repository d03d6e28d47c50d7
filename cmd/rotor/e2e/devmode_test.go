package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDevModeQuickStart runs the README's quick start as written: `rotor
// serve` with no config in an empty directory (here on a free port, given
// as a flag), then the curl commands it prints — subscribe with the printed
// token, publish with the printed API key — and the admin password it
// prints logs in.
func TestDevModeQuickStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, rotorBin, "serve", "--http.address", addr)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })

	printed := map[string]string{}
	sc := bufio.NewScanner(out)
	patterns := map[string]*regexp.Regexp{
		"password": regexp.MustCompile(`password: (\S+)`),
		"key":      regexp.MustCompile(`api key: (\S+)`),
		"token":    regexp.MustCompile(`token:\s+(\S+)`),
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(printed) < len(patterns) && sc.Scan() {
		for name, re := range patterns {
			if m := re.FindStringSubmatch(sc.Text()); m != nil && printed[name] == "" {
				printed[name] = m[1]
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if len(printed) < len(patterns) {
		t.Fatalf("serve printed %v, want a password, an API key and a token", printed)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	base := "http://" + addr

	// curl -N '.../connection/demo/sse?token=<TOKEN>&channel=news'
	var stream *http.Response
	eventually(t, 15*time.Second, "the SSE stream opens", func() bool {
		resp, err := http.Get(base + "/connection/demo/sse?token=" + printed["token"] + "&channel=news")
		if err != nil {
			return false
		}
		if resp.StatusCode != 200 {
			resp.Body.Close()
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

	// curl -X POST .../api/publish -H 'Authorization: apikey <KEY>' -d '{...}'
	req, _ := http.NewRequest(http.MethodPost, base+"/api/publish", strings.NewReader(`{"channel":"news","data":{"text":"hello"}}`))
	req.Header.Set("Authorization", "apikey "+printed["key"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"offset":1`) {
		t.Fatalf("publish: %d %s", resp.StatusCode, body)
	}
	waitLine("event: pub")
	if data := waitLine("data: "); data != `data: {"channel":"news","offset":1,"data":{"text":"hello"}}` {
		t.Fatalf("pub data = %s", data)
	}

	// The demo page and the embedded client are there.
	for _, path := range []string{"/static/rotor.js", "/demo?token=x", "/admin/login"} {
		r, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, r.StatusCode)
		}
	}
}

// TestEnvOnlyIsNotDevMode starts serve with ROTOR_* variables and no
// config file: a production server, so no demo project is made or
// printed, /demo is not served, no admin password is printed (the admin
// API works with the key), and the start log says which mode it is in.
func TestEnvOnlyIsNotDevMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, rotorBin, "serve")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "ROTOR_HTTP_ADDRESS=" + addr, "ROTOR_ADMIN_API_KEY=env-only-admin-key"}
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	base := "http://" + addr
	eventually(t, 20*time.Second, "the server answers", func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if !strings.Contains(stderr.String(), "production mode") {
		t.Errorf("start log does not name the mode:\n%s", stderr.String())
	}
	if s := stdout.String(); strings.Contains(s, "password") || strings.Contains(s, "Demo project") {
		t.Errorf("serve printed dev-mode secrets:\n%s", s)
	}
	for path, want := range map[string]int{"/demo": 404} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// The admin API (on with the key) lists no projects: no demo was made.
	req, _ := http.NewRequest(http.MethodGet, base+"/api/admin/projects", nil)
	req.Header.Set("Authorization", "apikey env-only-admin-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), `"demo"`) {
		t.Fatalf("GET /api/admin/projects: %d %s, want 200 without the demo project", resp.StatusCode, body)
	}
}

// TestProductionWarnsOfLeftoverDemo runs dev mode once in a directory,
// then a production start there: the demo project dev mode left in
// rotor.db, with its printed secret, is named in a warning.
func TestProductionWarnsOfLeftoverDemo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := func(env []string, args ...string) (*syncBuffer, func()) {
		ctx, cancel := context.WithCancel(t.Context())
		cmd := exec.CommandContext(ctx, rotorBin, args...)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=" + dir}, env...)
		var out syncBuffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		stop := func() { cancel(); _ = cmd.Wait() }
		t.Cleanup(stop)
		return &out, stop
	}
	dev, stopDev := start(nil, "serve", "--http.address", freeAddr(t))
	eventually(t, 20*time.Second, "dev mode makes the demo project", func() bool {
		return strings.Contains(dev.String(), `Demo project "demo"`)
	})
	stopDev()
	prod, _ := start([]string{"ROTOR_HTTP_ADDRESS=" + freeAddr(t)}, "serve")
	eventually(t, 20*time.Second, "production start warns of the demo project", func() bool {
		return strings.Contains(prod.String(), `project \"demo\" is in the structure database`)
	})
}
