package e2e

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestAdminLoginBehindNginx: behind the documented nginx configuration,
// the admin login limit counts each client by the address nginx reports
// (http.client_ip_header), so an attacker who exhausts it — forging the
// headers too — does not lock out another admin coming through the same
// proxy. The clients are told apart the real way: each connects to nginx
// from its own loopback address, and nginx writes that address into
// X-Real-IP and appends it to X-Forwarded-For. The control shows the
// failure this prevents: without the header setting, everyone behind the
// proxy is one address.
func TestAdminLoginBehindNginx(t *testing.T) {
	t.Parallel()
	const password = "e2e admin password"
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := writeCert(t, t.TempDir())
	for _, tc := range []struct {
		name, header string
		victimOK     bool
	}{
		{"X-Real-IP", "X-Real-IP", true},
		{"X-Forwarded-For", "X-Forwarded-For", true},
		{"no client_ip_header: one address for all", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, serverConfig{AdminHash: string(hash), ClientIPHeader: tc.header})
			base := proxies[0].start(t, srv.cfg.Addr, cert, key)
			attacker := clientAt(t, cert, "127.0.0.3")
			victim := clientAt(t, cert, "127.0.0.4")
			// The attacker claims to be the victim in both headers: nginx
			// overwrites X-Real-IP and appends the true address to
			// X-Forwarded-For, whose last entry Rotor takes.
			forged := map[string]string{"X-Real-IP": "127.0.0.4", "X-Forwarded-For": "127.0.0.4"}
			for i := range 8 {
				want := http.StatusUnauthorized
				if i >= 5 {
					want = http.StatusTooManyRequests
				}
				if st := adminLogin(t, attacker, base, "guess", forged); st != want {
					t.Fatalf("attacker's wrong password %d = %d, want %d\n%s", i+1, st, want, srv.logs)
				}
			}
			if st := adminLogin(t, attacker, base, password, nil); st != http.StatusTooManyRequests {
				t.Errorf("the right password from the limited attacker = %d, want 429", st)
			}
			want := http.StatusSeeOther
			if !tc.victimOK {
				want = http.StatusTooManyRequests
			}
			if st := adminLogin(t, victim, base, password, nil); st != want {
				t.Errorf("the right password from another client through the same nginx = %d, want %d", st, want)
			}
		})
	}
}

// TestAdminWithoutPasswordHash: with admin.api_key but no password hash,
// the server has no login form to guess at (404, no session), while
// /api/admin answers to the key.
func TestAdminWithoutPasswordHash(t *testing.T) {
	t.Parallel()
	const key = "e2e-global-admin-key"
	srv := startServer(t, serverConfig{AdminAPIKey: key})
	for _, pw := range []string{"", "anything"} {
		if st := adminLogin(t, srv.client, srv.base, pw, nil); st != http.StatusNotFound {
			t.Errorf("POST /admin/login without a password hash = %d, want 404", st)
		}
	}
	res, err := srv.client.Get(srv.base + "/admin/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /admin/login without a password hash = %d, want 404", res.StatusCode)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.base+"/api/admin/projects", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "apikey "+key)
	res, err = srv.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /api/admin/projects with the admin key = %d, want 200", res.StatusCode)
	}
}

// clientAt returns an HTTPS client trusting certFile whose connections
// leave from the loopback address ip.
func clientAt(t *testing.T, certFile, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{RootCAs: certPool(t, certFile)}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// adminLogin posts the login form as a same-origin page would and returns
// the status; a 303 must set the session cookie.
func adminLogin(t *testing.T, c *http.Client, base, password string, hdr map[string]string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/admin/login",
		strings.NewReader(url.Values{"password": {password}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusSeeOther && len(res.Cookies()) == 0 {
		t.Errorf("login answered 303 without a session cookie")
	}
	return res.StatusCode
}
