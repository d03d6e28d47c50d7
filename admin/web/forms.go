package web

import (
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/views"
)

// maxForm bounds a form or API body, maxLoginForm the login form (a
// password).
const (
	maxForm      = 1 << 20
	maxLoginForm = 4 << 10
)

// form is a parsed form body (r.PostForm). A field that was not sent
// leaves its setting as it was: a partial update changes only what it
// names, and a body without our fields changes nothing. A field sent
// empty clears its setting.
type form url.Values

// text sets *dst to the trimmed value of name, if sent.
func (f form) text(name string, dst *string) {
	if v, ok := f[name]; ok && len(v) > 0 {
		*dst = strings.TrimSpace(v[0])
	}
}

// check sets *dst from the check box name, if sent. Our forms send a
// hidden "off" before each box (views.checkbox), so the last value is the
// box's state.
func (f form) check(name string, dst *bool, errs views.FieldErrors) {
	v, ok := f[name]
	if !ok || len(v) == 0 {
		return
	}
	switch v[len(v)-1] {
	case "on", "true", "1":
		*dst = true
	case "off", "false", "0", "":
		*dst = false
	default:
		errs[name] = "must be on or off"
	}
}

// projectFromForm applies the sent fields of the project form to p and
// returns what is wrong beyond Project.Validate.
func projectFromForm(r *http.Request, p *structure.Project) views.FieldErrors {
	f := form(r.PostForm)
	errs := views.FieldErrors{}
	f.text("name", &p.Name)
	f.text("default_namespace", &p.DefaultNamespace)
	f.text("auth_url", &p.AuthURL)
	f.text("publish_hook_url", &p.PublishHookURL)
	f.text("events_hook_url", &p.EventsHookURL)
	if _, ok := f["allowed_origins"]; ok {
		p.AllowedOrigins = splitList(r.PostForm.Get("allowed_origins"))
	}
	f.check("anonymous", &p.Anonymous, errs)
	maps.Copy(errs, endpointErrors(p))
	return errs
}

// splitList splits on newlines and commas, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// endpointErrors puts Project.CheckEndpoints' problems under the form's
// boxes; the allowed origins are one box.
func endpointErrors(p *structure.Project) views.FieldErrors {
	errs := views.FieldErrors{}
	err := p.CheckEndpoints()
	if err == nil {
		return errs
	}
	for field, msg := range fieldErrors(err) {
		if strings.HasPrefix(field, "allowed_origins[") {
			field = "allowed_origins"
		}
		errs[field] = msg
	}
	return errs
}

// namespaceFromForm applies the sent fields of the namespace form to ns.
func namespaceFromForm(r *http.Request, ns *structure.Namespace) views.FieldErrors {
	f := form(r.PostForm)
	errs := views.FieldErrors{}
	f.check("publish", &ns.Publish, errs)
	f.check("anonymous", &ns.Anonymous, errs)
	f.check("presence", &ns.Presence, errs)
	f.check("join_leave", &ns.JoinLeave, errs)
	f.check("watch", &ns.Watch, errs)
	var v string
	if _, ok := f["history_size"]; ok {
		if f.text("history_size", &v); v == "" {
			ns.HistorySize = 0
		} else if n, err := strconv.Atoi(v); err != nil {
			errs["history_size"] = "must be a whole number"
		} else {
			ns.HistorySize = n
		}
	}
	if _, ok := f["history_ttl"]; ok {
		if f.text("history_ttl", &v); v == "" || v == "0" {
			ns.HistoryTTL = 0
		} else if d, err := time.ParseDuration(v); err != nil {
			errs["history_ttl"] = "must be a duration such as 300s, 5m or 1h"
		} else {
			ns.HistoryTTL = d
		}
	}
	return errs
}

// formBody parses the body of every POST as a form of at most limit bytes
// before next runs, and refuses one it cannot read: a body that is not
// application/x-www-form-urlencoded (JSON belongs to /api/admin), is
// malformed, or is too large. Handlers then read r.PostForm, and a field
// missing from it was not sent rather than lost in a failed parse.
func (h *auth) formBody(limit int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				next.ServeHTTP(w, r)
				return
			}
			if status, msg := parseForm(w, r, limit); status != 0 {
				h.log.Debug("admin form refused", "path", r.URL.Path, "status", status, "reason", msg)
				h.renderError(w, r, status, msg)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// parseForm fills r.PostForm, or returns the status and message that
// refuse the body.
func parseForm(w http.ResponseWriter, r *http.Request, limit int64) (status int, msg string) {
	ct := r.Header.Get("Content-Type")
	if ct == "" && r.ContentLength == 0 {
		// A button-only form (delete, regenerate, log out) may have no body.
		r.PostForm = url.Values{}
		return 0, ""
	}
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != formType {
		return http.StatusBadRequest, fmt.Sprintf("The request body must be a form (%s), not %q. Scripts use the JSON API at /api/admin.", formType, ct)
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d bytes; nothing was saved.", limit)
		}
		return http.StatusBadRequest, "The form could not be read (" + err.Error() + "); nothing was saved."
	}
	return 0, ""
}

const formType = "application/x-www-form-urlencoded"
