package transport

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// TestCORS: allowed_origins decides which pages may use the client
// endpoints, and only the server's own origin and the origins listed by
// name may use the session cookie; "*" lets any page in without it.
func TestCORS(t *testing.T) {
	t.Parallel()
	const (
		refused      = iota // 403 to everything, no CORS headers
		anonymous           // served, ACAO "*", no credentials, cookie neither set nor read
		credentialed        // served, ACAO = origin with credentials, cookie set and read
	)
	cases := []struct {
		name    string
		allowed []string
		origin  string // "self" means the server's own origin; "" sends none
		site    string // Sec-Fetch-Site, "" sends none
		want    int
	}{
		{"own origin, empty list", nil, "self", "same-origin", credentialed},
		{"own origin, no Sec-Fetch-Site", nil, "self", "", credentialed},
		{"own origin, not in the list", []string{"https://app.example"}, "self", "", credentialed},
		{"own origin, star", []string{"*"}, "self", "", credentialed},
		{"listed origin", []string{"https://app.example"}, "https://app.example", "cross-site", credentialed},
		{"listed with another case and a trailing slash", []string{"https://App.example/"}, "https://app.example", "cross-site", credentialed},
		{"listed origin beside star", []string{"*", "https://app.example"}, "https://app.example", "same-site", credentialed},
		{"other origin, empty list", nil, "http://evil.example", "cross-site", refused},
		{"unlisted origin", []string{"https://app.example"}, "https://evil.example", "cross-site", refused},
		{"star", []string{"*"}, "http://anything.example", "cross-site", anonymous},
		{"star, same site", []string{"*"}, "http://127.0.0.1:1", "same-site", anonymous},
		{"null, star", []string{"*"}, "null", "cross-site", anonymous},
		{"null, listed", []string{"null"}, "null", "cross-site", refused},
		{"no origin, no Sec-Fetch-Site (curl)", nil, "", "", credentialed},
		{"no origin, same origin", nil, "", "same-origin", credentialed},
		{"no origin, typed URL", nil, "", "none", credentialed},
		{"no origin, cross-site", []string{"*"}, "", "cross-site", anonymous},
		{"no origin, same-site", nil, "", "same-site", anonymous},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(_ *Options, p *structure.Project) { p.AllowedOrigins = c.allowed })
			origin := c.origin
			if origin == "self" {
				origin = s.url
			}
			hdr := http.Header{}
			if origin != "" {
				hdr.Set("Origin", origin)
			}
			if c.site != "" {
				hdr.Set("Sec-Fetch-Site", c.site)
			}
			checkCORS := func(what string, resp *http.Response) {
				t.Helper()
				acao, acac := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials")
				wantACAO, wantACAC := "", ""
				switch {
				case origin == "" || c.want == refused:
				case c.want == credentialed:
					wantACAO, wantACAC = origin, "true"
				default:
					wantACAO = "*"
				}
				if acao != wantACAO || acac != wantACAC {
					t.Errorf("%s: Access-Control-Allow-Origin %q, -Credentials %q; want %q, %q", what, acao, acac, wantACAO, wantACAC)
				}
				if !strings.Contains(resp.Header.Get("Vary"), "Origin") {
					t.Errorf("%s: Vary = %q, want Origin", what, resp.Header.Get("Vary"))
				}
			}

			// connect: allowed or not; the cookie only where it may be read.
			st, b, resp := s.post("/connection/p/connect", map[string]string{"token": s.token("u")}, hdr)
			checkCORS("connect", resp)
			if c.want == refused {
				if st != http.StatusForbidden {
					t.Fatalf("connect: %d %s, want 403", st, b)
				}
			} else if st != http.StatusOK {
				t.Fatalf("connect: %d %s", st, b)
			}
			setCookie := resp.Header.Get("Set-Cookie") != ""
			if setCookie != (c.want == credentialed) {
				t.Errorf("connect set a cookie: %v (%q)", setCookie, resp.Header.Get("Set-Cookie"))
			}

			// The victim's session, from a connect on the server's own origin.
			session := s.connect(s.token("victim")).Session
			grant := s.subscribe(session, "news")
			withCookie := hdr.Clone()
			withCookie.Set("Cookie", sessionCookie+"="+session)
			wantStatus := map[int]int{refused: 403, anonymous: 403, credentialed: 200}[c.want]

			st, b, resp = s.post("/connection/p/command", map[string]any{"commands": []cmd{{ID: 1, Method: "subscribe", Params: map[string]any{"channel": "news"}}}}, withCookie)
			checkCORS("command with the cookie", resp)
			if st != wantStatus {
				t.Errorf("command with the cookie: %d %s, want %d", st, b, wantStatus)
			}
			req, _ := http.NewRequest(http.MethodGet, s.url+"/connection/p/poll?"+q("grant", grant, "timeout", "0"), nil)
			req.Header = withCookie.Clone()
			presp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			presp.Body.Close()
			checkCORS("poll with the cookie", presp)
			if presp.StatusCode != wantStatus {
				t.Errorf("poll with the cookie: %d, want %d", presp.StatusCode, wantStatus)
			}
			if sse, status, body := s.trySSE(q("grant", grant), withCookie); status != wantStatus {
				t.Errorf("sse with the cookie: %d %s, want %d", status, body, wantStatus)
			} else if sse != nil {
				sse.next("sub")
			}

			// A session the page holds works wherever the origin is allowed.
			st, b, _ = s.post("/connection/p/command", map[string]any{"session": session, "commands": []cmd{{ID: 1, Method: "ping"}}}, withCookie)
			if want := map[bool]int{true: 403, false: 200}[c.want == refused]; st != want {
				t.Errorf("command with an explicit session: %d %s, want %d", st, b, want)
			}

			// Preflight: credentials only where the cookie may be used.
			pre, _ := http.NewRequest(http.MethodOptions, s.url+"/connection/p/command", nil)
			pre.Header = hdr.Clone()
			pre.Header.Set("Access-Control-Request-Method", "POST")
			presp, err = http.DefaultClient.Do(pre)
			if err != nil {
				t.Fatal(err)
			}
			presp.Body.Close()
			checkCORS("preflight", presp)
			if c.want == refused {
				if presp.StatusCode != 403 {
					t.Errorf("preflight from a refused origin: %d", presp.StatusCode)
				}
			} else if presp.StatusCode != 204 || (origin != "" && !strings.Contains(presp.Header.Get("Access-Control-Allow-Methods"), "POST")) {
				t.Errorf("preflight: %d %q", presp.StatusCode, presp.Header.Get("Access-Control-Allow-Methods"))
			}
		})
	}
}

// TestSameOrigin: without Sec-Fetch-Site, the own origin is the Host's, and
// over TLS only its https form.
func TestSameOrigin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, origin, site string
		tls                bool
		want               bool
	}{
		{"http", "http://rt.example", "", false, true},
		{"https behind a TLS proxy", "https://rt.example", "", false, true},
		{"https over TLS", "https://rt.example", "", true, true},
		{"http page against TLS", "http://rt.example", "", true, false},
		{"host differs in case", "http://RT.example", "", false, true},
		{"other port", "http://rt.example:8080", "", false, false},
		{"other host", "http://evil.example", "", false, false},
		{"not http", "ftp://rt.example", "", false, false},
		{"garbage", "::", "", false, false},
		{"browser says same-origin", "https://rt.example", "same-origin", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "http://rt.example/connection/p/sse", nil)
			if c.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if c.site != "" {
				r.Header.Set("Sec-Fetch-Site", c.site)
			}
			if got := sameOrigin(c.origin, r); got != c.want {
				t.Errorf("sameOrigin(%q) = %v, want %v", c.origin, got, c.want)
			}
		})
	}
}

// TestSessionCookieOverTLS: over TLS the cookie is Secure and still
// SameSite=Strict, and a page served over plain HTTP from the same host is
// not the server's own origin.
func TestSessionCookieOverTLS(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	srv := httptest.NewTLSServer(s.handler)
	t.Cleanup(srv.Close)
	cases := []struct {
		name, origin string
		status       int
	}{
		{"https page", srv.URL, http.StatusOK},
		{"http page on the same host", "http://" + strings.TrimPrefix(srv.URL, "https://"), http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/connection/p/connect", strings.NewReader(`{"token":"`+s.token("u")+`"}`))
			req.Header.Set("Origin", c.origin)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, c.status)
			}
			cookies := resp.Cookies()
			if c.status != http.StatusOK {
				if len(cookies) != 0 {
					t.Errorf("cookies %v, want none", resp.Header["Set-Cookie"])
				}
				return
			}
			if len(cookies) != 1 || !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
				t.Errorf("Set-Cookie %q, want one Secure, HttpOnly, SameSite=Strict cookie", resp.Header["Set-Cookie"])
			}
		})
	}
}
