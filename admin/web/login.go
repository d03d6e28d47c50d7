package web

import (
	"net/http"

	"golang.org/x/crypto/bcrypt"

	"github.com/rotor-rt/rotor/views"
)

func (h *Handler) loginPage(r *http.Request) views.Page {
	return views.Page{Title: "Log in", Base: h.opts.BasePath, ReadOnly: h.opts.Store.ReadOnly(), Owner: h.owner()}
}

func (h *Handler) loggedIn(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	_, ok := h.sessions.check(c.Value)
	return ok
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if h.loggedIn(r) {
		http.Redirect(w, r, h.opts.BasePath+"/", http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, views.LoginPage(h.loginPage(r)))
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	ip := h.opts.ClientIP(r)
	if h.limiter.blocked(ip) {
		p := h.loginPage(r)
		p.Error = "Too many failed attempts. Wait a minute and try again."
		w.Header().Set("Retry-After", "60")
		h.render(w, r, http.StatusTooManyRequests, views.LoginPage(p))
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	password := r.PostFormValue("password")
	if bcrypt.CompareHashAndPassword(h.opts.PasswordHash, []byte(password)) != nil {
		h.limiter.failed(ip)
		h.log.Warn("admin login failed", "ip", ip)
		p := h.loginPage(r)
		p.Error = "Wrong password."
		h.render(w, r, http.StatusUnauthorized, views.LoginPage(p))
		return
	}
	v, exp := h.sessions.issue()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: v, Path: h.opts.BasePath, Expires: exp,
		HttpOnly: true, Secure: h.opts.Secure, SameSite: http.SameSiteStrictMode,
	})
	h.log.Info("admin logged in", "ip", ip)
	http.Redirect(w, r, h.opts.BasePath+"/", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		h.sessions.revoke(c.Value)
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: h.opts.BasePath, MaxAge: -1,
		HttpOnly: true, Secure: h.opts.Secure, SameSite: http.SameSiteStrictMode,
	})
	http.Redirect(w, r, h.opts.BasePath+"/login", http.StatusSeeOther)
}
