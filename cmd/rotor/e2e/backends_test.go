package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/transport/apiclient"
	"github.com/rotor-rt/rotor/transport/auth"
)

// recipeMarker is the comment in docs/backends.md naming the files the
// next fenced block belongs to, each as language/path, separated by spaces.
var recipeMarker = regexp.MustCompile(`^<!-- recipe: ([a-z]+/[A-Za-z0-9_./-]+(?: [a-z]+/[A-Za-z0-9_./-]+)*) -->$`)

// docRecipes returns the programs of docs/backends.md by language, then by
// path: the blocks after a recipe marker, those naming the same file
// joined in order.
func docRecipes(t *testing.T) map[string]map[string]string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join(moduleRoot, "docs", "backends.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	var targets []string // language/path of the block to come
	var block []string
	inBlock := false
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case inBlock && strings.HasPrefix(line, "```"):
			for _, target := range targets {
				lang, path, _ := strings.Cut(target, "/")
				if out[lang] == nil {
					out[lang] = map[string]string{}
				}
				out[lang][path] += strings.Join(block, "\n") + "\n"
			}
			inBlock, targets, block = false, nil, nil
		case inBlock:
			block = append(block, line)
		case targets != nil && strings.HasPrefix(line, "```"):
			inBlock = true
		case targets != nil && strings.TrimSpace(line) != "":
			t.Fatalf("docs/backends.md: recipe %v is not followed by a fenced block: %q", targets, line)
		default:
			if m := recipeMarker.FindStringSubmatch(line); m != nil {
				targets = strings.Fields(m[1])
			} else if strings.HasPrefix(line, "<!-- recipe:") {
				t.Fatalf("docs/backends.md: malformed recipe marker %q", line)
			}
		}
	}
	if inBlock || targets != nil {
		t.Fatalf("docs/backends.md: recipe %v has no closed block", targets)
	}
	return out
}

// recipeLang runs one language's recipes: the three programs token,
// publish and server, each given ROTOR_URL, ROTOR_PROJECT, ROTOR_SECRET,
// ROTOR_API_KEY and PORT in its environment.
type recipeLang struct {
	name string
	// prepare writes anything the programs need beside their sources
	// into dir, or skips the test when the language is not installed.
	prepare func(t *testing.T, dir string)
	// command returns the command running program in dir (token,
	// publish or server; port is where server listens).
	command func(dir, program, port string) *exec.Cmd
}

// TestBackendRecipes runs the recipes of docs/backends.md against a real
// rotor serve, one server per language: the token connects as alice, the
// publish run twice with one idempotency key is in history once, the
// auth_url answers are accepted for the user's own private channel and
// refused for another's, and the events hook verifies Rotor's real calls
// and refuses a replay older than five minutes and a changed timestamp.
func TestBackendRecipes(t *testing.T) {
	t.Parallel()
	recipes := docRecipes(t)
	langs := []recipeLang{
		{name: "go", prepare: prepareGo, command: func(dir, program, _ string) *exec.Cmd {
			return exec.Command(filepath.Join(dir, "bin", program))
		}},
		{name: "node", prepare: prepareNode, command: func(dir, program, _ string) *exec.Cmd {
			return exec.Command("node", filepath.Join(dir, program+".mjs"))
		}},
		{name: "python", prepare: needCommand("python3"), command: func(dir, program, _ string) *exec.Cmd {
			return exec.Command("python3", filepath.Join(dir, program+".py"))
		}},
		{name: "php", prepare: needCommand("php"), command: func(dir, program, port string) *exec.Cmd {
			if program == "server" {
				cmd := exec.Command("php", "-S", "127.0.0.1:"+port, "server.php")
				cmd.Dir = dir
				return cmd
			}
			return exec.Command("php", filepath.Join(dir, program+".php"))
		}},
	}
	t.Run("django", func(t *testing.T) { runDjango(t, recipes["django"]) })
	for _, lang := range langs {
		t.Run(lang.name, func(t *testing.T) {
			files := recipes[lang.name]
			if len(files) < 3 {
				t.Fatalf("docs/backends.md has %d %s recipes, want token, publish and server", len(files), lang.name)
			}
			dir := t.TempDir()
			for path, src := range files {
				p := filepath.Join(dir, filepath.FromSlash(path))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			lang.prepare(t, dir)
			runRecipes(t, dir, lang)
		})
	}
}

// needCommand skips the test when name is not on PATH.
func needCommand(name string) func(*testing.T, string) {
	return func(t *testing.T, _ string) {
		t.Helper()
		if _, err := exec.LookPath(name); err != nil {
			t.Skipf("%s is not installed", name)
		}
	}
}

// prepareGo builds the Go recipes against this module's packages.
func prepareGo(t *testing.T, dir string) {
	t.Helper()
	mod := "module recipes\n\ngo 1.26\n\nrequire github.com/rotor-rt/rotor v0.0.0\n\nreplace github.com/rotor-rt/rotor => " + moduleRoot + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(moduleRoot, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "bin")+string(filepath.Separator), "./...")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the Go recipes: %v\n%s", err, out)
	}
}

// prepareNode bundles rotor-js/server from js-client/src into
// dir/node_modules/rotor-js, so the recipes import the current source.
func prepareNode(t *testing.T, dir string) {
	t.Helper()
	needCommand("node")(t, dir)
	esbuild := filepath.Join(moduleRoot, "js-client", "node_modules", ".bin", "esbuild")
	if _, err := os.Stat(esbuild); err != nil {
		t.Skip("js-client/node_modules is missing: run npm ci in js-client (make deps does)")
	}
	pkg := filepath.Join(dir, "node_modules", "rotor-js")
	build := exec.Command(esbuild, "src/server/index.ts", "--bundle", "--platform=node", "--target=node20",
		"--format=esm", "--log-level=warning", "--outfile="+filepath.Join(pkg, "server.mjs"))
	build.Dir = filepath.Join(moduleRoot, "js-client")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("esbuild rotor-js/server: %v\n%s", err, out)
	}
	manifest := `{"name": "rotor-js", "type": "module", "exports": {"./server": "./server.mjs"}}`
	if err := os.WriteFile(filepath.Join(pkg, "package.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hookCall is one call Rotor made to the recipe's events hook, as it
// passed through the recording proxy.
type hookCall struct {
	header http.Header
	body   []byte
	status int
}

// recorder is a reverse proxy between Rotor and the recipe's server that
// keeps the events hook calls, so the test can replay them.
type recorder struct {
	mu    sync.Mutex
	calls []hookCall
}

func (rec *recorder) events() []hookCall {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.calls)
}

func startRecorder(t *testing.T, backend string) (*recorder, string) {
	t.Helper()
	target, err := url.Parse("http://" + backend)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		cw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(cw, r)
		if r.URL.Path == "/rotor/events" {
			rec.mu.Lock()
			rec.calls = append(rec.calls, hookCall{header: r.Header.Clone(), body: body, status: cw.status})
			rec.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// runRecipes starts a Rotor whose project calls the recipe's server, then
// checks each recipe's effect on it.
func runRecipes(t *testing.T, dir string, lang recipeLang) {
	backend := freeAddr(t)
	_, port, _ := net.SplitHostPort(backend)
	rec, front := startRecorder(t, backend)
	s := startServer(t, serverConfig{AuthURL: front + "/rotor/auth", EventsHookURL: front + "/rotor/events"})
	env := append(cleanEnv(), "ROTOR_URL="+s.base, "ROTOR_PROJECT="+project, "ROTOR_SECRET="+secret,
		"ROTOR_API_KEY="+apiKey, "PORT="+port)
	run := func(program string) string {
		t.Helper()
		cmd := lang.command(dir, program, port)
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s recipe %s: %v\n%s%s", lang.name, program, err, out, stderr.Bytes())
		}
		return strings.TrimSpace(string(out))
	}

	// The recipe's server: auth_url and the events hook.
	logs := startBackend(t, lang.command(dir, "server", port), "", env, backend)

	// A token that connects, and auth_url: the user's own private channel
	// is allowed, another's not.
	checkPrivate(t, s, run("token"), lang.name, logs)

	// A publish run twice with one key: one publication.
	first, second := run("publish"), run("publish")
	if first != second || !strings.HasPrefix(first, "offset ") {
		t.Fatalf("publish printed %q then %q, want the same offset twice", first, second)
	}
	var history struct {
		Result struct {
			Publications []struct {
				Data struct{ Text string }
			}
		}
	}
	postJSON(t, s.base+"/api/history", apiKey, map[string]any{"channel": "news", "limit": 100}, &history)
	if pubs := history.Result.Publications; len(pubs) != 1 || pubs[0].Data.Text != "order 4711 shipped" {
		t.Fatalf("history of news after two publishes with one key = %+v, want one publication", pubs)
	}

	// The events hook verified Rotor's real calls: the publish is logged.
	eventually(t, 15*time.Second, "the publish event verified by the recipe", func() bool {
		return strings.Contains(logs.String(), "event publish news")
	})
	var call hookCall
	for _, c := range rec.events() {
		if bytes.Contains(c.body, []byte(`"publish"`)) {
			call = c
			break
		}
	}
	if call.status/100 != 2 {
		t.Fatalf("the events hook answered %d to Rotor's call\n%s", call.status, logs)
	}
	// The Go verifier agrees on the same real call.
	if err := apiclient.VerifySignature([]byte(secret), call.body, call.header); err != nil {
		t.Fatalf("apiclient.VerifySignature of Rotor's call: %v", err)
	}

	ts, err := strconv.ParseInt(call.header.Get(auth.TimestampHeader), 10, 64)
	if err != nil {
		t.Fatalf("X-Rotor-Timestamp %q", call.header.Get(auth.TimestampHeader))
	}
	signedAt := func(at int64) http.Header {
		h := call.header.Clone()
		stamp := strconv.FormatInt(at, 10)
		h.Set(auth.TimestampHeader, stamp)
		h.Set(auth.SignatureHeader, auth.SignTimestamped([]byte(secret), stamp, call.body))
		return h
	}
	tampered := call.header.Clone()
	tampered.Set(auth.TimestampHeader, strconv.FormatInt(ts+1, 10))
	untimestamped := call.header.Clone()
	untimestamped.Del(auth.TimestampHeader)
	untimestamped.Set(auth.SignatureHeader, auth.SignBody([]byte(secret), call.body))
	now := time.Now().Unix()
	for _, tt := range []struct {
		name   string
		header http.Header
		ok     bool
	}{
		{"the captured call again, within the tolerance", call.header, true},
		{"captured 4 minutes ago", signedAt(now - 240), true},
		{"captured 6 minutes ago", signedAt(now - 360), false},
		{"dated 6 minutes ahead", signedAt(now + 360), false},
		{"timestamp changed", tampered, false},
		{"body-only signature, no timestamp", untimestamped, false},
	} {
		status := replay(t, "http://"+backend+"/rotor/events", tt.header, call.body)
		if ok := status/100 == 2; ok != tt.ok {
			t.Errorf("%s recipe, %s: HTTP %d, want accepted=%v", lang.name, tt.name, status, tt.ok)
		}
	}
}

// djangoServe serves the recipe's view (app/views.py, which imports
// verify from app/rotor.py) at /rotor/auth with Django's own WSGI
// application and CSRF middleware, on $PORT.
const djangoServe = `import os
from wsgiref.simple_server import make_server

import django
from django.conf import settings

settings.configure(
    DEBUG=False, ALLOWED_HOSTS=["127.0.0.1"], ROOT_URLCONF=__name__, SECRET_KEY="e2e",
    MIDDLEWARE=["django.middleware.common.CommonMiddleware", "django.middleware.csrf.CsrfViewMiddleware"],
    ROTOR_SECRET=os.environ["ROTOR_SECRET"])
django.setup()

from django.core.wsgi import get_wsgi_application
from django.urls import path

from app import views

urlpatterns = [path("rotor/auth", views.rotor_auth)]
make_server("127.0.0.1", int(os.environ["PORT"]), get_wsgi_application()).serve_forever()
`

// runDjango serves the Django auth_url view of docs/backends.md and has
// Rotor ask it about the user's own private channel and another's.
func runDjango(t *testing.T, files map[string]string) {
	if files["app/views.py"] == "" || files["app/rotor.py"] == "" {
		t.Fatalf("docs/backends.md has no Django recipes app/views.py and app/rotor.py: %v", slices.Sorted(maps.Keys(files)))
	}
	// Debian's python3-django is for the system interpreter, which may
	// not be the first python3 on PATH (pyenv).
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import django").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("Django is not installed (Debian: python3-django)")
	}
	dir := t.TempDir()
	files["app/__init__.py"] = ""
	files["serve.py"] = djangoServe
	for path, src := range files {
		p := filepath.Join(dir, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	backend := freeAddr(t)
	_, port, _ := net.SplitHostPort(backend)
	s := startServer(t, serverConfig{AuthURL: "http://" + backend + "/rotor/auth"})
	logs := startBackend(t, exec.Command(python, "serve.py"), dir, append(cleanEnv(), "ROTOR_SECRET="+secret, "PORT="+port), backend)

	token, err := apiclient.ConnectionToken([]byte(secret), apiclient.ConnectionClaims{User: "alice", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	checkPrivate(t, s, token, "django", logs)
	// Unsigned, or signed long ago: refused.
	body := []byte(`{"client":"c","user":"alice","channels":["$user-alice"]}`)
	old := strconv.FormatInt(time.Now().Unix()-360, 10)
	for name, h := range map[string]http.Header{
		"unsigned": {"Content-Type": {"application/json"}},
		"stale": {"Content-Type": {"application/json"}, auth.TimestampHeader: {old},
			auth.SignatureHeader: {auth.SignTimestamped([]byte(secret), old, body)}},
	} {
		if status := replay(t, "http://"+backend+"/rotor/auth", h, body); status != http.StatusUnauthorized {
			t.Errorf("django view, %s call: HTTP %d, want 401", name, status)
		}
	}
}

// startBackend runs cmd in dir with env until addr accepts connections and
// returns its output; the process is killed when the test ends.
func startBackend(t *testing.T, cmd *exec.Cmd, dir string, env []string, addr string) *syncBuffer {
	t.Helper()
	if dir != "" {
		cmd.Dir = dir
	}
	cmd.Env = env
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	eventually(t, 20*time.Second, "backend listening on "+addr, func() bool {
		select {
		case <-exited:
			t.Fatalf("backend %v exited at start:\n%s", cmd.Args, logs)
		default:
		}
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return logs
}

// checkPrivate connects with token (user alice) and subscribes to
// $user-alice and $user-bob in one command: auth_url must allow the first
// and deny the second.
func checkPrivate(t *testing.T, s *server, token, name string, logs *syncBuffer) {
	t.Helper()
	var conn struct{ Session, User string }
	if status := postJSON(t, s.base+"/connection/"+project+"/connect", "", map[string]string{"token": token}, &conn); status != 200 || conn.User != "alice" {
		t.Fatalf("connect with the %s token %q: HTTP %d, user %q", name, token, status, conn.User)
	}
	var reply struct {
		Replies []struct {
			Result *struct{ Grant string }
			Error  *struct{ Code int }
		}
	}
	postJSON(t, s.base+"/connection/"+project+"/command", "", map[string]any{"session": conn.Session, "commands": []any{
		map[string]any{"id": 1, "method": "subscribe", "params": map[string]string{"channel": "$user-alice"}},
		map[string]any{"id": 2, "method": "subscribe", "params": map[string]string{"channel": "$user-bob"}},
	}}, &reply)
	if r := reply.Replies; len(r) != 2 || r[0].Result == nil || r[0].Result.Grant == "" || r[1].Error == nil || r[1].Error.Code != 103 {
		t.Fatalf("subscribe $user-alice, $user-bob through the %s auth_url = %+v\nbackend log:\n%s", name, r, logs)
	}
}

// replay sends body with header to url and returns the status.
func replay(t *testing.T, url string, header http.Header, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// postJSON POSTs v to url (with the API key when key is not empty),
// decodes the answer into out and returns the status.
func postJSON(t *testing.T, url, key string, v, out any) int {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "apikey "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(answer, out); err != nil {
		t.Fatalf("POST %s: HTTP %d, %s", url, resp.StatusCode, answer)
	}
	return resp.StatusCode
}
