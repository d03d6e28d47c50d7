package web_test

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rotor-rt/rotor/admin/web"
)

// clientFrom returns a client whose connections leave from the loopback
// address ip (Linux routes all of 127.0.0.0/8 to lo), so the server sees
// distinct clients by their TCP peer, with no header to trust.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// tryLogin posts password from c and returns the status.
func (e *env) tryLogin(c *http.Client, password string) (int, error) {
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.srv.URL+"/admin/login",
		strings.NewReader(url.Values{"password": {password}}.Encode()))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_ = res.Body.Close()
	return res.StatusCode, nil
}

// TestConcurrentWrongPasswords: guesses sent all at once from one address
// reach the password check no more often than the limit allows (a 401
// comes only after bcrypt); the rest get 429. Meanwhile another address
// logs in with the right password, and keeps being able to.
func TestConcurrentWrongPasswords(t *testing.T) {
	t.Parallel()
	const guesses = 50
	e := newEnv(t, nil)
	attacker, admin := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")
	start := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
		adminRes int
		errs     []error
	)
	for range guesses {
		wg.Go(func() {
			<-start
			st, err := e.tryLogin(attacker, "wrong")
			mu.Lock()
			defer mu.Unlock()
			statuses[st]++
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Go(func() {
		<-start
		st, err := e.tryLogin(admin, testPassword)
		mu.Lock()
		defer mu.Unlock()
		adminRes = st
		if err != nil {
			errs = append(errs, err)
		}
	})
	close(start)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if statuses[http.StatusUnauthorized] != 5 || statuses[http.StatusTooManyRequests] != guesses-5 || len(statuses) != 2 {
		t.Errorf("%d concurrent wrong passwords: %v by status, want 5 checked (401) and %d refused (429)",
			guesses, statuses, guesses-5)
	}
	if adminRes != http.StatusSeeOther {
		t.Errorf("right password from another address during the attack = %d, want 303", adminRes)
	}
	// The guessing address is refused even the right password; the other
	// one logs in again, any number of times.
	if st, err := e.tryLogin(attacker, testPassword); err != nil || st != http.StatusTooManyRequests {
		t.Errorf("right password from the limited address = %d %v, want 429", st, err)
	}
	for i := range 10 {
		if st, err := e.tryLogin(admin, testPassword); err != nil || st != http.StatusSeeOther {
			t.Fatalf("login %d from the other address = %d %v, want 303", i, st, err)
		}
	}
}

// TestNoPasswordHashNoUI: without a password hash there is no login form
// (nothing to guess at, no bcrypt to make run) and no page at all, while
// the JSON API still works with the admin key.
func TestNoPasswordHashNoUI(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, nil, func(o *web.Options) { o.PasswordHash = nil })
	for _, path := range []string{"/admin/login", "/admin/", "/admin/projects", "/admin/static/admin.css"} {
		if res, _ := e.get(path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, res.StatusCode)
		}
	}
	for _, pw := range []string{testPassword, "", "wrong"} {
		if res, _ := e.post("/admin/login", url.Values{"password": {pw}}); res.StatusCode != http.StatusNotFound || len(res.Cookies()) != 0 {
			t.Errorf("POST /admin/login = %d with cookies %v, want 404 and none", res.StatusCode, res.Cookies())
		}
	}
	if res, body := e.api("POST", "/projects", `{"id":"nohash"}`); res.StatusCode != http.StatusCreated {
		t.Errorf("admin API without a password hash = %d %s, want 201", res.StatusCode, body)
	}
}

func TestBadPasswordHashRefused(t *testing.T) {
	t.Parallel()
	_, err := web.New(web.Options{Store: newEnv(t, nil).store, PasswordHash: []byte("plain text")})
	if err == nil || !strings.Contains(err.Error(), "bcrypt") {
		t.Fatalf("New with a non-bcrypt hash: %v, want an error naming bcrypt", err)
	}
}
