package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/admin/sqlite"
	"github.com/rotor-rt/rotor/admin/web"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

const (
	testPassword = "correct horse battery staple"
	testAdminKey = "admin-key-for-tests"
)

type env struct {
	t      *testing.T
	srv    *httptest.Server
	client *http.Client
	store  web.Store
	node   *testNode
}

func hash(t *testing.T) []byte {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newEnv serves the admin UI and API over real HTTP, backed by a real
// SQLite file (or the given store) and the in-memory engine.
func newEnv(t *testing.T, store web.Store) *env {
	t.Helper()
	return newEnvWith(t, store, nil)
}

// newEnvWith is newEnv with opts changed by edit before the handler is
// made.
func newEnvWith(t *testing.T, store web.Store, edit func(*web.Options)) *env {
	t.Helper()
	if store == nil {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "rotor.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		store = s
	}
	node := newTestNode(t, store)
	opts := web.Options{Store: store, Node: node, PasswordHash: hash(t), APIKey: testAdminKey}
	if edit != nil {
		edit(&opts)
	}
	h, err := web.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Mount("/admin", h.UI())
	r.Mount("/api/admin", h.API())
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return &env{t: t, srv: srv, client: client, store: store, node: node}
}

func (e *env) do(req *http.Request) (*http.Response, string) {
	e.t.Helper()
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return res, string(b)
}

func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodGet, e.srv.URL+path, nil)
	return e.do(req)
}

// post sends a form as a same-origin browser page would.
func (e *env) post(path string, form url.Values, hdr ...string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	return e.do(req)
}

func (e *env) login() {
	e.t.Helper()
	res, body := e.post("/admin/login", url.Values{"password": {testPassword}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login: %d %s", res.StatusCode, body)
	}
}

func (e *env) api(method, path, body string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), method, e.srv.URL+"/api/admin"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "apikey "+testAdminKey)
	req.Header.Set("Content-Type", "application/json")
	return e.do(req)
}

func TestEveryPageNeedsLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, path := range []string{"/admin/", "/admin/stats", "/admin/projects", "/admin/projects/new",
		"/admin/projects/x", "/admin/projects/x/delete", "/admin/projects/x/namespaces/new",
		"/admin/projects/x/namespaces/default", "/admin/projects/x/namespaces/default/delete",
		"/admin/projects/x/watch", "/admin/projects/x/channels", "/admin/charts", "/admin/charts?project=x",
		"/admin/projects/x/users?user=u", "/admin/projects/x/users/u"} {
		res, _ := e.get(path)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/admin/login" {
			t.Errorf("GET %s = %d → %q, want a redirect to the login page", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	for _, path := range []string{"/admin/logout", "/admin/projects", "/admin/projects/x", "/admin/projects/x/delete",
		"/admin/projects/x/secret", "/admin/projects/x/api_key", "/admin/projects/x/namespaces",
		"/admin/projects/x/namespaces/default", "/admin/projects/x/namespaces/y/delete", "/admin/projects/x/channels",
		"/admin/projects/x/users/u/disconnect", "/admin/projects/x/users/u/unsubscribe", "/admin/projects/x/users/u/token"} {
		if res, _ := e.post(path, url.Values{"id": {"x"}}); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s = %d, want 401", path, res.StatusCode)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/admin/projects/x/watch/stream", nil)
	req.Header.Set("Accept", "text/event-stream")
	if res, _ := e.do(req); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("watch stream without login = %d, want 401", res.StatusCode)
	}
	// The login page and the assets are public.
	for _, path := range []string{"/admin/login", "/admin/static/admin.css", "/admin/static/admin.js"} {
		if res, _ := e.get(path); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, res.StatusCode)
		}
	}
	if res, _ := e.get("/admin/static/"); res.StatusCode != http.StatusNotFound {
		t.Errorf("static directory listing = %d, want 404", res.StatusCode)
	}
}

func TestLoginLogout(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login()
	res, body := e.get("/admin/")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Dashboard") {
		t.Fatalf("dashboard after login: %d", res.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range e.client.Jar.Cookies(must(url.Parse(e.srv.URL + "/admin/"))) {
		cookie = c
	}
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	if res, _ := e.post("/admin/logout", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", res.StatusCode)
	}
	if res, _ := e.get("/admin/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("dashboard after logout = %d, want a redirect", res.StatusCode)
	}
	// The old cookie, replayed, no longer works.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/admin/", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if res, err := http.DefaultTransport.RoundTrip(req); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout: %v %v", res.StatusCode, err)
	}
	// A forged cookie does not either.
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, e.srv.URL+"/admin/", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: "abc.99999999999.forged"})
	if res, err := http.DefaultTransport.RoundTrip(req); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("forged cookie: %v %v", res.StatusCode, err)
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	res, _ := e.post("/admin/login", url.Values{"password": {testPassword}})
	c := res.Cookies()
	if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/admin" {
		t.Fatalf("cookie = %+v", c)
	}
}

func TestWrongPasswordThenRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 5 {
		res, body := e.post("/admin/login", url.Values{"password": {"wrong"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong password") {
			t.Fatalf("attempt %d: %d", i, res.StatusCode)
		}
		if len(res.Cookies()) != 0 {
			t.Fatal("a wrong password set a cookie")
		}
	}
	res, _ := e.post("/admin/login", url.Values{"password": {"wrong"}})
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("6th attempt = %d, want 429", res.StatusCode)
	}
	// Even the right password waits now.
	res, _ = e.post("/admin/login", url.Values{"password": {testPassword}})
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("right password while limited = %d, want 429", res.StatusCode)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login()
	form := url.Values{"id": {"evil"}}
	for _, tc := range []struct {
		name string
		hdr  []string
	}{
		{"no origin headers", []string{"Origin", "", "Sec-Fetch-Site", ""}},
		{"cross-site fetch", []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign origin", []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := e.post("/admin/projects", form, tc.hdr...)
			if res.StatusCode != http.StatusForbidden {
				t.Fatalf("status %d, want 403", res.StatusCode)
			}
		})
	}
	if _, err := e.store.Project(t.Context(), "evil"); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("a refused request created a project: %v", err)
	}
	// The same form from our own origin works.
	res, _ := e.post("/admin/projects", form)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("same-origin create = %d", res.StatusCode)
	}
}

func TestProjectAndNamespacePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login()
	res, body := e.post("/admin/projects", url.Values{"id": {"chat"}, "name": {"Chat"},
		"allowed_origins": {"https://a.example\nhttps://b.example"}})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", res.StatusCode, body)
	}
	p, err := e.store.Project(t.Context(), "chat")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, p.Secret) || !strings.Contains(body, p.APIKey) {
		t.Fatal("new secret and key not shown on creation")
	}
	if len(p.AllowedOrigins) != 2 {
		t.Fatalf("origins = %v", p.AllowedOrigins)
	}
	if _, body := e.get("/admin/projects/chat"); strings.Contains(body, p.Secret) || strings.Contains(body, p.APIKey) {
		t.Fatal("the project page shows the stored secret")
	}
	for _, tc := range []struct {
		name, path string
		form       url.Values
		status     int
		want       string
	}{
		{"duplicate id", "/admin/projects", url.Values{"id": {"chat"}}, 400, "already exists"},
		{"bad id", "/admin/projects", url.Values{"id": {"Not OK"}}, 400, "must be 1-64 characters"},
		{"bad hook url", "/admin/projects/chat", url.Values{"default_namespace": {"default"}, "auth_url": {"ftp://x"}}, 400, "absolute http"},
		{"bad origin", "/admin/projects/chat", url.Values{"default_namespace": {"default"}, "allowed_origins": {"a.example/x"}}, 400, "is not an origin"},
		{"update", "/admin/projects/chat", url.Values{"name": {"Chat 2"}, "default_namespace": {"default"}}, 303, ""},
		{"new namespace", "/admin/projects/chat/namespaces", url.Values{"name": {"room"}, "presence": {"on"}, "history_size": {"5"}, "history_ttl": {"90s"}, "watch": {"on"}}, 303, ""},
		{"duplicate namespace", "/admin/projects/chat/namespaces", url.Values{"name": {"room"}, "history_ttl": {"1m"}}, 400, "already exists"},
		{"bad ttl", "/admin/projects/chat/namespaces/room", url.Values{"history_size": {"5"}, "history_ttl": {"soon"}}, 400, "must be a duration"},
		{"ttl cleared", "/admin/projects/chat/namespaces/room", url.Values{"history_size": {"5"}, "history_ttl": {""}}, 400, "must be set when history_size"},
		{"update namespace", "/admin/projects/chat/namespaces/room", url.Values{"publish": {"on"}, "history_size": {"0"}}, 303, ""},
		{"delete default namespace", "/admin/projects/chat/namespaces/default/delete", nil, 400, "cannot be deleted"},
		{"delete namespace", "/admin/projects/chat/namespaces/room/delete", nil, 303, ""},
		{"unknown project", "/admin/projects/nope", url.Values{}, 404, ""},
	} {
		res, body := e.post(tc.path, tc.form)
		if res.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want %d with %q", tc.name, res.StatusCode, tc.status, tc.want)
		}
	}
	p, _ = e.store.Project(t.Context(), "chat")
	if p.Name != "Chat 2" || len(p.Namespaces) != 1 {
		t.Fatalf("after edits: %+v", p)
	}
	for _, page := range []string{"/admin/projects", "/admin/projects/chat", "/admin/projects/chat/namespaces/default",
		"/admin/projects/chat/namespaces/new", "/admin/projects/chat/delete", "/admin/projects/chat/watch",
		"/admin/projects/chat/channels?channel=x", "/admin/"} {
		if res, _ := e.get(page); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d", page, res.StatusCode)
		}
	}
	old := p.Secret
	res, body = e.post("/admin/projects/chat/secret", nil)
	p, _ = e.store.Project(t.Context(), "chat")
	if res.StatusCode != 200 || p.Secret == old || !strings.Contains(body, p.Secret) {
		t.Fatalf("regenerate secret: %d", res.StatusCode)
	}
	res, body = e.post("/admin/projects/chat/api_key", nil)
	p, _ = e.store.Project(t.Context(), "chat")
	if res.StatusCode != 200 || !strings.Contains(body, p.APIKey) {
		t.Fatalf("regenerate key: %d", res.StatusCode)
	}
	if res, _ := e.post("/admin/projects/chat/delete", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", res.StatusCode)
	}
	if _, err := e.store.Project(t.Context(), "chat"); !errors.Is(err, structure.ErrNotFound) {
		t.Fatalf("project still there: %v", err)
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login()
	const evil = `<script>alert(1)</script>`
	res, body := e.post("/admin/projects", url.Values{"id": {"xss"}, "name": {evil}})
	if res.StatusCode != http.StatusCreated || strings.Contains(body, evil) {
		t.Fatalf("create: %d", res.StatusCode)
	}
	for _, page := range []string{"/admin/projects", "/admin/projects/xss", "/admin/projects/xss/delete"} {
		_, body = e.get(page)
		if strings.Contains(body, evil) || !strings.Contains(body, "&lt;script&gt;") {
			t.Errorf("%s does not escape the project name", page)
		}
	}
	res, body = e.post("/admin/projects/xss/channels", url.Values{"channel": {"news"}, "data": {`"` + evil + `"`}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "Published at offset 1") {
		t.Fatalf("publish: %d", res.StatusCode)
	}
	_, body = e.get("/admin/projects/xss/channels?channel=news")
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;alert(1)") {
		t.Fatal("history does not escape a published message")
	}
	if res.Header.Get("Content-Security-Policy") == "" {
		t.Fatal("no CSP")
	}
	// Bad JSON is refused with a message.
	if res, body := e.post("/admin/projects/xss/channels", url.Values{"channel": {"news"}, "data": {"{oops"}}); res.StatusCode != 400 || !strings.Contains(body, "must be JSON") {
		t.Fatalf("bad JSON publish: %d", res.StatusCode)
	}
}

func TestWatchStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login()
	w := e.store.(web.Writer)
	if err := w.CreateProject(t.Context(), &structure.Project{ID: "p"}); err != nil {
		t.Fatal(err)
	}
	ns := structure.DefaultNamespaceSettings("quiet")
	ns.Watch = false
	if err := w.CreateNamespace(t.Context(), "p", ns); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/admin/projects/p/watch/stream?pattern="+url.QueryEscape("news*"), nil)
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(res.Body)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, ":") {
		t.Fatalf("first line %q", line)
	}
	for _, c := range []struct{ ch, data string }{
		{"other", `"skip: pattern"`}, {"quiet:news", `"skip: watch off"`}, {"news", `{"text":"<script>x</script>\nline"}`},
	} {
		if _, err := e.node.Publish(t.Context(), "p", c.ch, json.RawMessage(c.data)); err != nil {
			t.Fatal(err)
		}
	}
	var lines []string
	for len(lines) < 2 {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line = strings.TrimRight(line, "\n"); line != "" && !strings.HasPrefix(line, ":") {
			lines = append(lines, line)
		}
	}
	if lines[0] != "event: pub" || !strings.HasPrefix(lines[1], "data: ") {
		t.Fatalf("event = %q", lines)
	}
	var ev struct {
		Channel string          `json:"channel"`
		Offset  uint64          `json:"offset"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Channel != "news" || ev.Offset != 1 || !strings.Contains(string(ev.Data), "line") {
		t.Fatalf("event = %+v", ev)
	}
	if res, _ := e.get("/admin/projects/p/watch/stream?pattern=" + url.QueryEscape("[")); res.StatusCode != 400 {
		t.Fatalf("bad pattern = %d", res.StatusCode)
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	static, err := admin.NewStaticStore([]structure.Project{{ID: "demo", Name: "Demo", Secret: strings.Repeat("s", 32),
		APIKey: "k", DefaultNamespace: "default", Namespaces: []structure.Namespace{structure.DefaultNamespaceSettings("default")}}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, static)
	e.login()
	_, body := e.get("/admin/projects/demo")
	if !strings.Contains(body, "read-only") || !strings.Contains(body, "<fieldset disabled") {
		t.Fatal("project page lacks the read-only badge or disabled forms")
	}
	if strings.Contains(body, "<fieldset>") {
		t.Fatal("an enabled structure form on a read-only project page")
	}
	for _, path := range []string{"/admin/projects", "/admin/projects/demo", "/admin/projects/demo/secret",
		"/admin/projects/demo/delete", "/admin/projects/demo/namespaces", "/admin/projects/demo/namespaces/default"} {
		if res, _ := e.post(path, url.Values{"id": {"x"}, "name": {"x"}}); res.StatusCode != http.StatusConflict {
			t.Errorf("POST %s on a read-only store = %d, want 409", path, res.StatusCode)
		}
	}
	if res, body := e.api("DELETE", "/projects/demo", ""); res.StatusCode != http.StatusConflict || !strings.Contains(body, "read-only") {
		t.Errorf("API delete on a read-only store = %d %s", res.StatusCode, body)
	}
	if res, _ := e.api("GET", "/projects/demo", ""); res.StatusCode != 200 || res.Header.Get(web.OwnerHeader) != "" {
		t.Errorf("API read on a read-only store = %d, %s %q", res.StatusCode, web.OwnerHeader, res.Header.Get(web.OwnerHeader))
	}
}

// ownedStore is a read-only structure owned by another node, as
// *enginestore.Store serves it (tested with Redis in cmd/rotor/e2e).
type ownedStore struct{ *admin.StaticStore }

func (ownedStore) OwnerNode() string { return "owner-host (node abc)" }

func TestReadOnlyOwnedElsewhere(t *testing.T) {
	t.Parallel()
	static, err := admin.NewStaticStore([]structure.Project{{ID: "demo", Name: "Demo", Secret: strings.Repeat("s", 32),
		APIKey: "k", DefaultNamespace: "default", Namespaces: []structure.Namespace{structure.DefaultNamespaceSettings("default")}}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, ownedStore{static})
	e.login()
	_, body := e.get("/admin/projects/demo")
	if !strings.Contains(body, "read-only") || !strings.Contains(body, "owned by owner-host (node abc)") || !strings.Contains(body, "<fieldset disabled") {
		t.Fatal("project page does not say it is read-only and who owns it")
	}
	if res, body := e.post("/admin/projects/demo/delete", nil); res.StatusCode != http.StatusConflict || !strings.Contains(body, "owned by owner-host (node abc)") {
		t.Errorf("UI delete = %d, want 409 naming the owner", res.StatusCode)
	}
	if res, _ := e.api("GET", "/projects", ""); res.StatusCode != http.StatusOK || res.Header.Get(web.OwnerHeader) != "owner-host (node abc)" {
		t.Errorf("API list = %d, %s %q; want 200 naming the owner", res.StatusCode, web.OwnerHeader, res.Header.Get(web.OwnerHeader))
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/projects", `{"id":"x"}`},
		{"PATCH", "/projects/demo", `{"name":"x"}`},
		{"DELETE", "/projects/demo", ""},
		{"PATCH", "/projects/demo/namespaces/default", `{"presence":true}`},
	} {
		res, body := e.api(c.method, c.path, c.body)
		if res.StatusCode != http.StatusConflict || !strings.Contains(body, `"code":103`) || !strings.Contains(body, "owned by owner-host (node abc)") {
			t.Errorf("API %s %s = %d %s, want 409 code 103 naming the owner", c.method, c.path, res.StatusCode, body)
		}
	}
}

func TestAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	type errBody struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	for _, tc := range []struct {
		name, method, path, body string
		status, code             int
		want                     string
	}{
		{"create", "POST", "/projects", `{"id":"api","name":"API"}`, 201, 0, `"secret":"`},
		{"duplicate", "POST", "/projects", `{"id":"api"}`, 409, 107, "already exists"},
		{"invalid", "POST", "/projects", `{"id":"A B"}`, 400, 107, "id: must be"},
		{"unknown field", "POST", "/projects", `{"id":"x","colour":"red"}`, 400, 107, "colour"},
		{"malformed", "POST", "/projects", `{`, 400, 107, "malformed"},
		{"list", "GET", "/projects", "", 200, 0, `"id":"api"`},
		{"get", "GET", "/projects/api", "", 200, 0, `"history_ttl":"5m0s"`},
		{"unknown", "GET", "/projects/nope", "", 404, 102, "not found"},
		{"patch", "PATCH", "/projects/api", `{"name":"API 2","anonymous":true}`, 200, 0, `"name":"API 2"`},
		{"patch id", "PATCH", "/projects/api", `{"id":"other"}`, 400, 107, "cannot be changed"},
		{"patch namespaces", "PATCH", "/projects/api", `{"namespaces":[]}`, 400, 107, "namespaces"},
		{"create ns", "POST", "/projects/api/namespaces", `{"name":"room","presence":true,"history_ttl":"30s"}`, 201, 0, `"history_ttl":"30s"`},
		{"ns number ttl", "PATCH", "/projects/api/namespaces/room", `{"history_ttl":60}`, 200, 0, `"history_ttl":"1m0s"`},
		{"ns bad ttl", "PATCH", "/projects/api/namespaces/room", `{"history_ttl":"soon"}`, 400, 107, "duration"},
		{"ns trailing data", "PATCH", "/projects/api/namespaces/room", `{"presence":false} x`, 400, 107, "data after"},
		{"ns two objects", "PATCH", "/projects/api/namespaces/room", `{"presence":false}{"presence":false}`, 400, 107, "data after"},
		{"ns form body", "PATCH", "/projects/api/namespaces/room", `presence=false`, 400, 107, "malformed"},
		{"ns empty body", "PATCH", "/projects/api/namespaces/room", ``, 400, 107, "malformed"},
		{"project trailing data", "PATCH", "/projects/api", `{"auth_url":""} x`, 400, 107, "malformed"},
		{"ns unchanged", "GET", "/projects/api/namespaces/room", "", 200, 0, `"presence":true`},
		{"ns list", "GET", "/projects/api/namespaces", "", 200, 0, `"name":"room"`},
		{"ns get", "GET", "/projects/api/namespaces/room", "", 200, 0, `"presence":true`},
		{"delete default ns", "DELETE", "/projects/api/namespaces/default", "", 400, 107, "default namespace"},
		{"delete ns", "DELETE", "/projects/api/namespaces/room", "", 204, 0, ""},
		{"delete ns again", "DELETE", "/projects/api/namespaces/room", "", 404, 102, ""},
		{"regenerate", "POST", "/projects/api/secret", "", 200, 0, `"secret":"`},
		{"delete", "DELETE", "/projects/api", "", 204, 0, ""},
		{"delete again", "DELETE", "/projects/api", "", 404, 102, ""},
	} {
		res, body := e.api(tc.method, tc.path, tc.body)
		if res.StatusCode != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, res.StatusCode, body, tc.status, tc.want)
			continue
		}
		if tc.code != 0 {
			var eb errBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || eb.Error.Code != tc.code {
				t.Errorf("%s: error body %s, want code %d", tc.name, body, tc.code)
			}
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", e.srv.URL+"/api/admin/projects", nil)
	req.Header.Set("Authorization", "apikey wrong")
	if res, body := e.do(req); res.StatusCode != 401 || !strings.Contains(body, `"code":101`) {
		t.Errorf("wrong key: %d %s", res.StatusCode, body)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
