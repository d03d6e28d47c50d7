package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rotor-rt/rotor/cmd/rotor/config"
	domain "github.com/rotor-rt/rotor/pubsub/structure"
)

// apiServer is a real HTTP server standing in for Rotor's /api/publish: it
// checks the request and records what it got.
type apiServer struct {
	mu     sync.Mutex
	keys   []string
	bodies []map[string]any
	status int
	reply  string
	// unavailable is how many requests are answered 503 (112) first.
	unavailable int
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/publish" {
		http.Error(w, "want POST /api/publish, got "+r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	var body map[string]any
	raw, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.keys = append(a.keys, r.Header.Get("Authorization"))
	a.bodies = append(a.bodies, body)
	status, reply := a.status, a.reply
	if a.unavailable > 0 {
		a.unavailable--
		status, reply = http.StatusServiceUnavailable, `{"error":{"code":112,"message":"temporarily unavailable"}}`
	}
	a.mu.Unlock()
	if status == 0 {
		status, reply = http.StatusOK, `{"result":{"offset":1,"epoch":"abc"}}`
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reply)
}

func TestPublish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		extraCfg string
		args     []string
		wantKey  string
	}{
		{"project key", "", nil, "apikey demo-key"},
		{"flag key", "", []string{"--api-key", "flag-key"}, "apikey flag-key"},
		{"admin key for a project without one in the structure", "admin:\n  api_key: global-key\n",
			[]string{"--project", "elsewhere"}, "apikey global-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &apiServer{}
			srv := httptest.NewServer(api)
			t.Cleanup(srv.Close)
			args := append([]string{"publish", "--config", fileConfig(t, tt.extraCfg), "--url", srv.URL,
				"--project", "demo", "--channel", "news", "--data", `{"text":"hello"}`}, tt.args...)
			out, err := run(t, nil, args...)
			if err != nil {
				t.Fatal(err)
			}
			if out != `{"result":{"offset":1,"epoch":"abc"}}`+"\n" {
				t.Errorf("out = %q", out)
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			if len(api.keys) != 1 || api.keys[0] != tt.wantKey {
				t.Fatalf("Authorization = %q, want %q", api.keys, tt.wantKey)
			}
			body := api.bodies[0]
			if body["channel"] != "news" || body["data"].(map[string]any)["text"] != "hello" {
				t.Errorf("body = %v", body)
			}
		})
	}
}

func TestPublishErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		reply  string
		args   []string
		want   string
		out    string
	}{
		{"http status", http.StatusUnauthorized, `{"error":{"code":101,"message":"unauthorized"}}`, nil, "HTTP 401",
			`{"error":{"code":101,"message":"unauthorized"}}` + "\n"},
		{"not rotor", http.StatusNotFound, `404 page not found`, nil, "HTTP 404", `{"error":{"code":104,"message":"HTTP 404: 404 page not found"}}` + "\n"},
		{"idempotency key too long", 0, "", []string{"--idempotency-key", strings.Repeat("k", 129)}, "longer than 128", ""},
		{"error reply", http.StatusOK, `{"error":{"code":102,"message":"unknown channel"}}`, nil, "unknown channel",
			`{"error":{"code":102,"message":"unknown channel"}}` + "\n"},
		{"bad data", 0, "", []string{"--data", "{nope"}, "--data is not valid JSON", ""},
		{"no key", 0, "", []string{"--project", "ghost"}, "no API key", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(&apiServer{status: tt.status, reply: tt.reply})
			t.Cleanup(srv.Close)
			args := append([]string{"publish", "--config", fileConfig(t, ""), "--url", srv.URL,
				"--project", "demo", "--channel", "news", "--data", `1`}, tt.args...)
			out, err := run(t, nil, args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if out != tt.out {
				t.Errorf("out = %q, want %q", out, tt.out)
			}
		})
	}
}

// TestPublishRetriesWithKey checks that a 112 is retried with the same
// idempotency key: the caller's, or one made for the run.
func TestPublishRetriesWithKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // "" means any non-empty key
	}{
		{"generated key", nil, ""},
		{"given key", []string{"--idempotency-key", "order-1"}, "order-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &apiServer{unavailable: 2}
			srv := httptest.NewServer(api)
			t.Cleanup(srv.Close)
			args := append([]string{"publish", "--config", fileConfig(t, ""), "--url", srv.URL,
				"--project", "demo", "--channel", "news", "--data", `1`}, tt.args...)
			if _, err := run(t, nil, args...); err != nil {
				t.Fatal(err)
			}
			api.mu.Lock()
			defer api.mu.Unlock()
			if len(api.bodies) != 3 {
				t.Fatalf("%d requests, want 3", len(api.bodies))
			}
			key, _ := api.bodies[0]["idempotency_key"].(string)
			if key == "" || tt.want != "" && key != tt.want {
				t.Fatalf("idempotency_key = %q, want %q", key, tt.want)
			}
			for i, b := range api.bodies {
				if b["idempotency_key"] != key {
					t.Fatalf("request %d has idempotency_key %v, want %q", i, b["idempotency_key"], key)
				}
			}
		})
	}
}

func TestPublishDefaultURLFromAddressAndSQLite(t *testing.T) {
	t.Parallel()
	api := &apiServer{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	dbPath := filepath.Join(t.TempDir(), "rotor.db")
	seedSQLite(t, dbPath, domain.Project{
		ID: "shop", Secret: testSecret, APIKey: "shop-key", DefaultNamespace: "default",
		Namespaces: []domain.Namespace{domain.DefaultNamespaceSettings("default")},
	})
	addr := strings.TrimPrefix(srv.URL, "http://")
	env := []string{"ROTOR_HTTP_ADDRESS=" + addr, "ROTOR_STRUCTURE_SQLITE_PATH=" + dbPath}
	if _, err := run(t, env, "publish", "--project", "shop", "--channel", "c", "--data", `"x"`); err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.keys) != 1 || api.keys[0] != "apikey shop-key" {
		t.Fatalf("keys = %q", api.keys)
	}
}

func TestServerURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		h    config.HTTP
		want string
	}{
		{config.HTTP{Address: ":8000"}, "http://127.0.0.1:8000"},
		{config.HTTP{Address: "0.0.0.0:80"}, "http://127.0.0.1:80"},
		{config.HTTP{Address: "[::]:8000"}, "http://[::1]:8000"},
		{config.HTTP{Address: "example.com:443", TLSCert: "c", TLSKey: "k"}, "https://example.com:443"},
		{config.HTTP{Address: "10.0.0.5:9000"}, "http://10.0.0.5:9000"},
	}
	for _, tt := range tests {
		got, err := serverURL(tt.h)
		if err != nil || got != tt.want {
			t.Errorf("serverURL(%+v) = %q, %v; want %q", tt.h, got, err, tt.want)
		}
	}
}
