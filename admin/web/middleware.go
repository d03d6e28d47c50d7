package web

import (
	"crypto/subtle"
	"io/fs"
	"net/http"
	"strings"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/static"
)

// securityHeaders forbids inline scripts and framing: even if an escaping
// bug let markup through, the browser would not run it.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
			"img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "+
			"form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// crossOrigin refuses state-changing requests that a browser marked as
// coming from another site (Sec-Fetch-Site, else Origin vs Host), and those
// with neither header: every browser sends one on a POST, so a request
// without is not from a page of ours.
func (h *auth) crossOrigin(next http.Handler) http.Handler {
	checked := h.csrf.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
			h.denyCrossOrigin(w, r)
			return
		}
		checked.ServeHTTP(w, r)
	})
}

func (h *auth) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	h.log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
		"origin", r.Header.Get("Origin"), "sec_fetch_site", r.Header.Get("Sec-Fetch-Site"))
	h.renderError(w, r, http.StatusForbidden, "This request came from another site and was refused.")
}

// requireLogin sends visitors without a valid session to the login page
// (or answers 401 to scripts and streams).
func (h *auth) requireLogin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.loggedIn(r) {
			w.Header().Set("Cache-Control", "no-store")
			next.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodGet && !strings.Contains(r.Header.Get("Accept"), "application/json") &&
			!strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
			http.Redirect(w, r, h.opts.BasePath+"/login", http.StatusSeeOther)
			return
		}
		http.Error(w, "login required", http.StatusUnauthorized)
	})
}

// requireAPIKey checks "Authorization: apikey <key>" against the global
// admin key in constant time.
func (h *adminAPI) requireAPIKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if h.opts.APIKey == "" || !strings.EqualFold(scheme, "apikey") ||
			subtle.ConstantTimeCompare([]byte(key), []byte(h.opts.APIKey)) != 1 {
			apiError(w, http.StatusUnauthorized, pubsub.CodeUnauthorized, "missing or wrong admin API key")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func staticFiles() http.Handler {
	return http.FileServerFS(assetsOnly{static.Assets})
}

// assetsOnly hides directory listings.
type assetsOnly struct{ fs.FS }

func (a assetsOnly) Open(name string) (fs.File, error) {
	f, err := a.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		_ = f.Close()
		return nil, fs.ErrNotExist
	}
	return f, nil
}

// OwnerHeader names, on every admin API answer of a node that reads the
// structure from the engine, the node that owns it: where writes go.
const OwnerHeader = "Rotor-Structure-Owner"

// ownerHeader sets OwnerHeader when the store is owned by another node.
func (h *adminAPI) ownerHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if owner := h.owner(); owner != "" {
			w.Header().Set(OwnerHeader, owner)
		}
		next.ServeHTTP(w, r)
	})
}
