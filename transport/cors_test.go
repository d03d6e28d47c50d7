package transport

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rotor-rt/rotor/admin"
)

// TestCORS: allowed_origins decides which browsers' origins may use the
// client endpoints (docs/protocol.md): empty = same origin, a list, or "*".
func TestCORS(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		allowed []string
		origin  string // "self" means the server's own origin
		ok      bool
	}{
		{"same origin, empty list", nil, "self", true},
		{"other origin, empty list", nil, "http://evil.example", false},
		{"listed origin", []string{"https://app.example"}, "https://app.example", true},
		{"unlisted origin", []string{"https://app.example"}, "https://evil.example", false},
		{"same origin not listed", []string{"https://app.example"}, "self", false},
		{"star", []string{"*"}, "http://anything.example", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(_ *Options, p *admin.Project) { p.AllowedOrigins = c.allowed })
			origin := c.origin
			if origin == "self" {
				origin = s.url
			}
			req, _ := http.NewRequest(http.MethodPost, s.url+"/connection/p/connect", strings.NewReader(`{"token":"`+s.token("u")+`"}`))
			req.Header.Set("Origin", origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if c.ok {
				if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != origin || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
					t.Fatalf("status %d, ACAO %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
				}
			} else if resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("status %d, ACAO %q; want 403 and no CORS header", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
				t.Errorf("Vary = %q, want Origin", resp.Header.Get("Vary"))
			}
			// Preflight.
			pre, _ := http.NewRequest(http.MethodOptions, s.url+"/connection/p/command", nil)
			pre.Header.Set("Origin", origin)
			pre.Header.Set("Access-Control-Request-Method", "POST")
			presp, err := http.DefaultClient.Do(pre)
			if err != nil {
				t.Fatal(err)
			}
			presp.Body.Close()
			if c.ok && (presp.StatusCode != 204 || !strings.Contains(presp.Header.Get("Access-Control-Allow-Methods"), "POST")) {
				t.Fatalf("preflight: %d %q", presp.StatusCode, presp.Header.Get("Access-Control-Allow-Methods"))
			}
			if !c.ok && presp.StatusCode != 403 {
				t.Fatalf("preflight from a refused origin: %d", presp.StatusCode)
			}
		})
	}
}
