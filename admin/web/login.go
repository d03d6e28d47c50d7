package web

import (
	"net/http"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/rotor-rt/rotor/views"
)

// auth owns logging in: the login and logout pages, the limits on
// password guesses, and the middleware that guards every page (login
// required, cross-origin refusal, form size).
type auth struct {
	*shared
	limiter *loginLimiter
	checks  checkSlots
	csrf    *http.CrossOriginProtection
}

func (h *auth) loginPage(r *http.Request) views.Page {
	return views.Page{Title: "Log in", Base: h.opts.BasePath, ReadOnly: h.opts.Store.ReadOnly(), Owner: h.owner()}
}

func (h *auth) loginForm(w http.ResponseWriter, r *http.Request) {
	if h.loggedIn(r) {
		http.Redirect(w, r, h.opts.BasePath+"/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, views.LoginPage(h.loginPage(r)))
}

// login checks the password. A failure slot of the client's address is
// taken before bcrypt runs and given back only for the right password, so
// concurrent guesses cannot outrun the limit; and at most maxChecks
// comparisons run at once, whoever sends them. Only the guessing address
// is limited: others, the right password included, log in as usual.
func (h *auth) login(w http.ResponseWriter, r *http.Request) {
	ip := h.opts.ClientIP(r)
	refund, ok := h.limiter.reserve(ip)
	if !ok {
		// Debug only: a flood of refused guesses must not flood the log.
		h.log.Debug("admin login refused: too many failures", "ip", ip)
		h.loginRefused(w, r, "Too many failed attempts. Wait a minute and try again.", loginEvery)
		return
	}
	release, ok := h.checks.acquire(r.Context())
	if !ok {
		refund() // the password was not checked
		h.loginRefused(w, r, "Too many logins at once. Try again in a moment.", time.Second)
		return
	}
	err := bcrypt.CompareHashAndPassword(h.opts.PasswordHash, []byte(r.PostForm.Get("password")))
	release()
	if err != nil {
		h.log.Warn("admin login failed", "ip", ip)
		p := h.loginPage(r)
		p.Error = "Wrong password."
		h.render(w, r, http.StatusUnauthorized, views.LoginPage(p))
		return
	}
	refund()
	v, exp := h.sessions.issue()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: v, Path: h.opts.BasePath, Expires: exp,
		HttpOnly: true, Secure: h.opts.Secure, SameSite: http.SameSiteStrictMode,
	})
	h.log.Info("admin logged in", "ip", ip)
	http.Redirect(w, r, h.opts.BasePath+"/", http.StatusSeeOther)
}

// loginRefused answers 429 with the login form and when to come back.
func (h *auth) loginRefused(w http.ResponseWriter, r *http.Request, msg string, after time.Duration) {
	p := h.loginPage(r)
	p.Error = msg
	w.Header().Set("Retry-After", strconv.Itoa(int(after/time.Second)))
	h.render(w, r, http.StatusTooManyRequests, views.LoginPage(p))
}

func (h *auth) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		h.sessions.revoke(c.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: h.opts.BasePath, MaxAge: -1,
		HttpOnly: true, Secure: h.opts.Secure, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, h.opts.BasePath+"/login", http.StatusSeeOther)
}
