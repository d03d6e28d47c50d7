package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// TestRedisPrefixAndURLOptions runs serve on a real Redis with
// engine.prefix and go-redis options in engine.redis_url: the keys of a
// publication carry the prefix (and none the default one), the node's
// connections carry the client_name from the URL, and every log line is
// JSON with log.format: json.
func TestRedisPrefixAndURLOptions(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	srv := startServer(t, serverConfig{
		RedisURL:    rs.URL() + "?client_name=e2e-prefix-node&pool_size=4&dial_timeout=2s",
		RedisPrefix: "acme",
		LogJSON:     true,
	})
	if _, err := publish(t.Context(), srv.client, srv.base, "news", map[string]string{"text": "hi"}); err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(&goredis.Options{Addr: rs.Addr()})
	defer rdb.Close()
	ours, err := rdb.Keys(t.Context(), "acme:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := rdb.Keys(t.Context(), "rotor:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(ours) == 0 || len(theirs) != 0 {
		t.Fatalf("keys under acme: %q, under rotor: %q; want only acme", ours, theirs)
	}
	clients, err := rdb.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(clients, "name=e2e-prefix-node") {
		t.Fatalf("no connection named by the URL's client_name:\n%s", clients)
	}
	for line := range strings.Lines(strings.TrimSpace(srv.logs.String())) {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
}

// TestSessionTTLFromConfig connects with a token without exp: the session
// lasts client.session_ttl.
func TestSessionTTLFromConfig(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverConfig{SessionTTL: 90 * time.Minute})
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ann"}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	resp, err := srv.client.Post(srv.base+"/connection/"+project+"/connect", "application/json", strings.NewReader(`{"token":"`+tok+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var reply struct {
		Expires int64 `json:"expires"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("connect: %d %v", resp.StatusCode, err)
	}
	got := time.Unix(reply.Expires, 0).Sub(before)
	if got < 89*time.Minute || got > 91*time.Minute {
		t.Fatalf("session lasts %v, want 90m", got)
	}
}

// TestAdminSessionKeySharedByNodes logs in to the admin UI on one node and
// uses the session cookie on another with the same admin.session_key: no
// sticky sessions needed. A node with another key refuses the cookie.
func TestAdminSessionKeySharedByNodes(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("e2e admin password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	shared := "shared-admin-session-key-0123456789abcdef"
	a := startServer(t, serverConfig{AdminHash: string(hash), SessionKey: shared})
	b := startServer(t, serverConfig{AdminHash: string(hash), SessionKey: shared})
	c := startServer(t, serverConfig{AdminHash: string(hash), SessionKey: "another-admin-session-key-0123456789abcdef"})

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// As a browser posts the login form: same origin.
	login, _ := http.NewRequest(http.MethodPost, a.base+"/admin/login", strings.NewReader(url.Values{"password": {"e2e admin password"}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	login.Header.Set("Origin", a.base)
	login.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := client.Do(login)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login on node A: %d", resp.StatusCode)
	}
	aURL, _ := url.Parse(a.base + "/admin/")
	cookies := jar.Cookies(aURL)
	if len(cookies) == 0 {
		t.Fatal("login set no cookie")
	}
	for _, tt := range []struct {
		node *server
		want int
	}{{a, http.StatusOK}, {b, http.StatusOK}, {c, http.StatusSeeOther}} {
		req, _ := http.NewRequest(http.MethodGet, tt.node.base+"/admin/", nil)
		for _, ck := range cookies {
			req.AddCookie(ck)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s/admin/ with node A's cookie: %d, want %d", tt.node.base, resp.StatusCode, tt.want)
		}
	}
}
