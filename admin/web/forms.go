package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/views"
)

// maxForm bounds a form or API body.
const maxForm = 1 << 20

// projectFromForm reads the project form into p (keeping what the form
// does not carry) and returns what is wrong beyond Project.Validate.
func projectFromForm(r *http.Request, p *admin.Project) views.FieldErrors {
	p.Name = strings.TrimSpace(r.PostFormValue("name"))
	p.DefaultNamespace = strings.TrimSpace(r.PostFormValue("default_namespace"))
	p.AuthURL = strings.TrimSpace(r.PostFormValue("auth_url"))
	p.PublishHookURL = strings.TrimSpace(r.PostFormValue("publish_hook_url"))
	p.EventsHookURL = strings.TrimSpace(r.PostFormValue("events_hook_url"))
	p.AllowedOrigins = splitList(r.PostFormValue("allowed_origins"))
	p.Anonymous = r.PostFormValue("anonymous") == "on"
	return checkURLs(p)
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

// checkURLs checks what Project.Validate leaves out: hook and auth URLs
// must be absolute http(s) URLs, origins scheme://host[:port] or "*".
func checkURLs(p *admin.Project) views.FieldErrors {
	errs := views.FieldErrors{}
	for field, v := range map[string]string{
		"auth_url": p.AuthURL, "publish_hook_url": p.PublishHookURL, "events_hook_url": p.EventsHookURL,
	} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs[field] = "must be an absolute http:// or https:// URL"
		}
	}
	for _, o := range p.AllowedOrigins {
		if admin.CheckOrigin(o) != nil {
			errs["allowed_origins"] = "each origin must look like https://example.com (or be *); " + strconv.Quote(o) + " does not"
			break
		}
	}
	return errs
}

// namespaceFromForm reads the namespace form.
func namespaceFromForm(r *http.Request, ns *admin.Namespace) views.FieldErrors {
	errs := views.FieldErrors{}
	ns.Publish = r.PostFormValue("publish") == "on"
	ns.Anonymous = r.PostFormValue("anonymous") == "on"
	ns.Presence = r.PostFormValue("presence") == "on"
	ns.JoinLeave = r.PostFormValue("join_leave") == "on"
	ns.Watch = r.PostFormValue("watch") == "on"
	if v := strings.TrimSpace(r.PostFormValue("history_size")); v == "" {
		ns.HistorySize = 0
	} else if n, err := strconv.Atoi(v); err != nil {
		errs["history_size"] = "must be a whole number"
	} else {
		ns.HistorySize = n
	}
	if v := strings.TrimSpace(r.PostFormValue("history_ttl")); v == "" || v == "0" {
		ns.HistoryTTL = 0
	} else if d, err := time.ParseDuration(v); err != nil {
		errs["history_ttl"] = "must be a duration such as 300s, 5m or 1h"
	} else {
		ns.HistoryTTL = d
	}
	return errs
}
