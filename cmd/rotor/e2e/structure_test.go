package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

const adminKey = "e2e-admin-key"

// structureYAML is a config for one role of the engine-store topology:
// "sqlite" (the owner, its file in its working directory) or "engine" (a
// reader, no file).
func structureYAML(addr, redisURL, store string) string {
	return fmt.Sprintf(`http:
  address: %q
engine:
  type: redis
  redis_url: %q
structure:
  store: %s
  sqlite_path: rotor.db
admin:
  api_key: %q
log:
  level: info
`, addr, redisURL, store, adminKey)
}

// newRoleServer prepares a `rotor serve` of the given structure role with
// its own config file and working directory, shared with no other
// process; it is not started.
func newRoleServer(t *testing.T, redisURL, store string) *server {
	t.Helper()
	s := newServer(t, serverConfig{Addr: freeAddr(t)})
	s.dir = filepath.Dir(s.path)
	if err := os.WriteFile(s.path, []byte(structureYAML(s.cfg.Addr, redisURL, store)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	return s
}

// adminCall sends an /api/admin request and returns the status and body.
func adminCall(t *testing.T, s *server, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.base+"/api/admin"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "apikey "+adminKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// apiOK calls the server API with key and reports whether it answered
// a result (200 with "result", not "error").
func apiOK(ctx context.Context, s *server, key, method, body string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/api/"+method, strings.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "apikey "+key)
	resp, err := s.client.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var reply struct {
		Result json.RawMessage `json:"result"`
	}
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&reply) == nil && reply.Result != nil
}

// connectStatus connects to project on s with a token signed by secret.
func connectStatus(ctx context.Context, s *server, project, secret string) int {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "u1", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		return 0
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/connection/"+project+"/connect",
		strings.NewReader(`{"token":"`+tok+`"}`))
	if err != nil {
		return 0
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// within polls cond every 5ms and returns how long it took to hold, or
// fails after limit.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func (s *server) logText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		return ""
	}
	return s.logs.String()
}

// TestStructureThroughEngine runs the topology of docs/scaling.md (One
// structure for every host) with real processes in separate directories
// and a real Redis: one owner with the SQLite file, two readers with
// structure.store: engine.
func TestStructureThroughEngine(t *testing.T) {
	t.Parallel()
	rds := redistest.Start(t)
	owner := newRoleServer(t, rds.URL(), "sqlite")
	readers := []*server{newRoleServer(t, rds.URL(), "engine"), newRoleServer(t, rds.URL(), "engine")}

	// The readers start first: they wait, saying why, and serve once the
	// owner has written the structure.
	started := make(chan error, len(readers))
	for _, r := range readers {
		go func() { started <- r.start() }()
	}
	for _, r := range readers {
		eventually(t, startWait, "reader says it waits", func() bool {
			return strings.Contains(r.logText(), "waiting for the structure snapshot in the engine")
		})
	}
	select {
	case err := <-started:
		t.Fatalf("a reader served before any snapshot existed (err %v)", err)
	default:
	}
	if err := owner.start(); err != nil {
		t.Fatal(err)
	}
	for range readers {
		if err := <-started; err != nil {
			t.Fatal(err)
		}
	}

	// A project created on the owner serves /connect and /api/publish on
	// every reader within a second.
	st, body := adminCall(t, owner, "POST", "/projects", `{"id":"shop","name":"Shop"}`)
	if st != http.StatusCreated {
		t.Fatalf("create project on the owner: %d %s", st, body)
	}
	written := time.Now()
	var created struct{ Secret, APIKey string }
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatal(err)
	}
	created.Secret, _ = raw["secret"].(string)
	created.APIKey, _ = raw["api_key"].(string)
	ctx := t.Context()
	pubBody := `{"channel":"news","data":{"n":1}}`
	for i, r := range readers {
		within(t, time.Second-time.Since(written), fmt.Sprintf("reader %d publishes to the new project", i), func() bool {
			return apiOK(ctx, r, created.APIKey, "publish", pubBody)
		})
		if st := connectStatus(ctx, r, "shop", created.Secret); st != http.StatusOK {
			t.Fatalf("reader %d /connect to the new project = %d", i, st)
		}
	}
	t.Logf("create project: every reader serves it %v after the owner answered", time.Since(written))

	// A namespace change applies on every reader within a second.
	presence := `{"channel":"news"}`
	for i, r := range readers {
		if apiOK(ctx, r, created.APIKey, "presence", presence) {
			t.Fatalf("reader %d answers presence before it is on", i)
		}
	}
	if st, body := adminCall(t, owner, "PATCH", "/projects/shop/namespaces/default", `{"presence":true}`); st != http.StatusOK {
		t.Fatalf("presence on: %d %s", st, body)
	}
	written = time.Now()
	for i, r := range readers {
		within(t, time.Second-time.Since(written), fmt.Sprintf("reader %d has presence on", i), func() bool {
			return apiOK(ctx, r, created.APIKey, "presence", presence)
		})
	}
	t.Logf("namespace change: every reader applies it %v after the owner answered", time.Since(written))

	// The same, twenty times, for a figure: presence off and on again.
	var worst, total time.Duration
	for i := range 20 {
		on := i%2 == 1
		if st, body := adminCall(t, owner, "PATCH", "/projects/shop/namespaces/default", fmt.Sprintf(`{"presence":%t}`, on)); st != http.StatusOK {
			t.Fatalf("presence %t: %d %s", on, st, body)
		}
		written := time.Now()
		for j, r := range readers {
			within(t, time.Second-time.Since(written), fmt.Sprintf("change %d on reader %d", i, j), func() bool {
				return apiOK(ctx, r, created.APIKey, "presence", presence) == on
			})
		}
		d := time.Since(written)
		total += d
		worst = max(worst, d)
	}
	t.Logf("20 namespace changes: every reader applied each within %v on average, %v at worst", total/20, worst)

	// Only the owner has a file; `rotor token` on a reader finds the
	// project in Redis.
	for i, r := range readers {
		if _, err := os.Stat(filepath.Join(r.dir, "rotor.db")); err == nil {
			t.Fatalf("reader %d made a SQLite file", i)
		}
	}
	if _, err := os.Stat(filepath.Join(owner.dir, "rotor.db")); err != nil {
		t.Fatalf("owner's SQLite file: %v", err)
	}
	cmd := exec.CommandContext(ctx, rotorBin, "token", "--config", readers[0].path, "--project", "shop", "--user", "u1")
	cmd.Env, cmd.Dir = cleanEnv(), readers[0].dir
	if out, err := cmd.CombinedOutput(); err != nil || strings.Count(string(out), ".") != 2 {
		t.Fatalf("rotor token on a reader: %v %s", err, out)
	}

	// A reader shows the structure and refuses writes, naming the owner.
	if st, body := adminCall(t, readers[0], "GET", "/projects/shop", ""); st != http.StatusOK || !strings.Contains(body, `"presence":true`) {
		t.Fatalf("reader GET project: %d %s", st, body)
	}
	st, body = adminCall(t, readers[0], "PATCH", "/projects/shop", `{"name":"X"}`)
	if st != http.StatusConflict || !strings.Contains(body, "owned by") || !strings.Contains(body, "(node ") {
		t.Fatalf("reader write: %d %s, want 409 naming the owner", st, body)
	}

	// The owner restarts: the same version stays in Redis.
	version := func() string {
		v, err := rds.Do("HGET", "rotor:structure", "v")
		if err != nil {
			return "error: " + err.Error()
		}
		return v
	}
	before := version()
	owner.waitExit(owner.terminate())
	owner.restart()
	time.Sleep(1500 * time.Millisecond) // past the owner's first check
	if after := version(); after != before {
		t.Fatalf("structure version %s after the owner restarted, was %s", after, before)
	}
	if strings.Contains(owner.logText(), "structure snapshot written") {
		t.Fatalf("restarted owner rewrote an unchanged snapshot:\n%s", owner.logText())
	}

	// Redis restarts empty: the owner writes the snapshot again and the
	// readers keep serving.
	rds.Restart(true)
	eventually(t, 10*time.Second, "snapshot back in Redis", func() bool { return version() == before })
	for i, r := range readers {
		eventually(t, 10*time.Second, fmt.Sprintf("reader %d publishes after Redis came back", i), func() bool {
			return apiOK(ctx, r, created.APIKey, "publish", pubBody)
		})
	}
	if !strings.Contains(owner.logText(), "missing from the engine") {
		t.Fatalf("owner did not say it rewrote the snapshot:\n%s", owner.logText())
	}
}
