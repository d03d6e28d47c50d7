package transport

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// access is what a request may do, judged by the page it comes from.
type access int

const (
	// accessRefused: the origin is not allowed at all (403).
	accessRefused access = iota
	// accessAnonymous: the origin is allowed only by "*", or the request
	// comes from another origin without saying which (no Origin, but
	// Sec-Fetch-Site says same-site or cross-site: an <img>, a
	// navigation). It may use a token or session it holds, never the
	// session cookie: CORS answers without credentials, and the cookie is
	// neither read nor set.
	accessAnonymous
	// accessCredentialed: the server's own origin, an origin listed in
	// allowed_origins, or a request no browser marked as cross-origin (a
	// same-origin GET, curl). It may use the session cookie.
	accessCredentialed
	// accessUnknown: not decided yet; cookieSession decides when it needs
	// to.
	accessUnknown
)

// originAccess applies allowed_origins to r. The server's own origin is
// always credentialed, whatever the list says; "*" lets any other origin
// in, "null" included, but never with credentials, since a cookie sent
// along by a page on another origin is the victim's, not that page's.
func originAccess(p *structure.Project, r *http.Request) access {
	origin := r.Header.Get("Origin")
	if origin == "" {
		// Browsers send Origin on every cross-origin fetch and
		// EventSource; what comes without it from another origin is
		// a no-cors request or a navigation.
		switch r.Header.Get("Sec-Fetch-Site") {
		case "same-site", "cross-site":
			return accessAnonymous
		}
		return accessCredentialed
	}
	if origin != "null" && (sameOrigin(origin, r) || structure.OriginListed(p.AllowedOrigins, origin)) {
		return accessCredentialed
	}
	if slices.Contains(p.AllowedOrigins, "*") {
		return accessAnonymous
	}
	return accessRefused
}

// sameOrigin reports whether origin is the server's own. The browser's
// Sec-Fetch-Site is trusted when present (it sees the scheme a TLS
// terminating proxy hides from us); otherwise origin's host must be the
// request's Host, and its scheme https when the request came over TLS.
// Without TLS either scheme passes, as behind such a proxy.
func sameOrigin(origin string, r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "same-origin" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if r.TLS != nil && u.Scheme != "https" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// applyCORS answers r's CORS headers for a. It reports false, having
// written 403, when the origin is refused.
func applyCORS(w http.ResponseWriter, r *http.Request, a access) bool {
	origin := r.Header.Get("Origin")
	if a == accessRefused {
		writeError(w, pubsub.Errorf(pubsub.CodePermissionDenied, "origin %q not allowed", origin))
		return false
	}
	if origin == "" {
		return true
	}
	h := w.Header()
	if a == accessCredentialed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		// A browser refuses "*" to a request made with credentials, so
		// a page can read the answer only to what it sent without.
		h.Set("Access-Control-Allow-Origin", "*")
	}
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Last-Event-ID")
		h.Set("Access-Control-Max-Age", "600")
	}
	return true
}

// cookieSession returns the session in r's rotor_session cookie, "" when
// there is none. A request that may not use credentials is refused when it
// carries the cookie: the browser attached it, the page did not choose
// it, and it is the only thing that would let another origin act as the
// user. The answer names the fix.
func cookieSession(p *structure.Project, r *http.Request, a access) (string, *pubsub.Error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", nil
	}
	if a == accessUnknown {
		a = originAccess(p, r)
	}
	if a != accessCredentialed {
		return "", pubsub.Errorf(pubsub.CodePermissionDenied,
			"the session cookie is not accepted from origin %q: list it in allowed_origins or send the session explicitly", requestOrigin(r))
	}
	return c.Value, nil
}

// requestOrigin names where r comes from for an error message.
func requestOrigin(r *http.Request) string {
	if o := r.Header.Get("Origin"); o != "" {
		return o
	}
	return "another origin (Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site") + ")"
}
