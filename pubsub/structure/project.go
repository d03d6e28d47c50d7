// Package structure is the domain of Rotor's structure: projects and
// their namespaces (docs/configuration.md, Projects in the file), their
// validation, origin checks and the errors every structure store returns.
// It is named for what it holds, not for who edits it: the stores
// (admin, admin/sqlite, admin/enginestore), the admin handlers and the
// node all read these types, and the hot path never imports admin.
// It also resolves a channel name in a project (Resolve) and holds the
// namespace rules (CheckSubscribe, PublishOptions); the channel name
// grammar itself stays in pubsub, which this package imports and which
// imports no Rotor package.
package structure

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// ErrNotFound is returned by stores for an unknown project or namespace.
var ErrNotFound = errors.New("not found")

// ErrReadOnly is returned by stores whose structure comes from a file.
var ErrReadOnly = errors.New("structure is read-only")

// Project is a tenant (docs/protocol.md, Concepts).
type Project struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Secret           string   `json:"secret,omitempty"`
	APIKey           string   `json:"api_key,omitempty"`
	DefaultNamespace string   `json:"default_namespace"`
	AuthURL          string   `json:"auth_url"`
	PublishHookURL   string   `json:"publish_hook_url"`
	EventsHookURL    string   `json:"events_hook_url"`
	AllowedOrigins   []string `json:"allowed_origins"`
	// Anonymous lets clients connect without a token. Zero value: false.
	Anonymous  bool        `json:"anonymous"`
	Namespaces []Namespace `json:"namespaces"`
}

// Namespace is a named group of channel settings inside a project (docs/protocol.md, Concepts).
type Namespace struct {
	Name      string `json:"name"`
	Publish   bool   `json:"publish"`
	Anonymous bool   `json:"anonymous"`
	Presence  bool   `json:"presence"`
	JoinLeave bool   `json:"join_leave"`
	// HistorySize is the number of publications kept; 0 turns history off.
	HistorySize int `json:"history_size"`
	// HistoryTTL is how long history is kept after the last publication.
	HistoryTTL time.Duration `json:"history_ttl"`
	Watch      bool          `json:"watch"`
}

// DefaultNamespaceSettings returns a namespace with the documented defaults
// (docs/configuration.md, Projects in the file).
func DefaultNamespaceSettings(name string) Namespace {
	return Namespace{Name: name, HistorySize: 100, HistoryTTL: 5 * time.Minute, Watch: true}
}

// Namespace returns the namespace called name; "" means the default one.
func (p *Project) Namespace(name string) (*Namespace, bool) {
	if name == "" {
		name = p.DefaultNamespace
	}
	for i := range p.Namespaces {
		if p.Namespaces[i].Name == name {
			return &p.Namespaces[i], true
		}
	}
	return nil, false
}

var slugRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// ValidSlug reports whether s may be a project id or a namespace name.
func ValidSlug(s string) bool { return slugRe.MatchString(s) }

// FieldError names one invalid field by its path.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks a project and its namespaces and returns every problem
// found, joined, each a *FieldError whose Field is relative to the project.
func (p *Project) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if !ValidSlug(p.ID) {
		bad("id", "must be 1-64 characters of a-z, 0-9, _ and -")
	}
	if len(p.Secret) < 32 {
		bad("secret", "must be at least 32 bytes")
	}
	if p.APIKey == "" {
		bad("api_key", "must not be empty")
	}
	if _, ok := p.Namespace(""); !ok {
		bad("default_namespace", "names no namespace of the project (%q)", p.DefaultNamespace)
	}
	seen := map[string]bool{}
	for i, ns := range p.Namespaces {
		path := fmt.Sprintf("namespaces[%d]", i)
		if !ValidSlug(ns.Name) {
			bad(path+".name", "must be 1-64 characters of a-z, 0-9, _ and -")
		}
		if seen[ns.Name] {
			bad(path+".name", "duplicate namespace %q", ns.Name)
		}
		seen[ns.Name] = true
		if ns.HistorySize < 0 {
			bad(path+".history_size", "must not be negative")
		}
		if ns.HistoryTTL < 0 {
			bad(path+".history_ttl", "must not be negative")
		}
		if ns.HistorySize > 0 && ns.HistoryTTL == 0 {
			bad(path+".history_ttl", "must be set when history_size is above 0")
		}
	}
	return errors.Join(errs...)
}

// CheckEndpoints checks the project's addresses, which Validate leaves out
// so that a stored project with a stale address still loads: the auth and
// hook URLs must be absolute http(s) URLs and every allowed origin must pass
// CheckOrigin. It returns every problem, joined, each a *FieldError whose
// Field is relative to the project (allowed_origins[i] for an origin).
func (p *Project) CheckEndpoints() error {
	var errs []error
	for _, f := range []struct{ name, url string }{
		{"auth_url", p.AuthURL}, {"publish_hook_url", p.PublishHookURL}, {"events_hook_url", p.EventsHookURL},
	} {
		if f.url == "" {
			continue
		}
		if u, err := url.Parse(f.url); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, &FieldError{Field: f.name, Message: "must be an absolute http:// or https:// URL"})
		}
	}
	for i, o := range p.AllowedOrigins {
		if err := CheckOrigin(o); err != nil {
			errs = append(errs, &FieldError{Field: fmt.Sprintf("allowed_origins[%d]", i), Message: err.Error()})
		}
	}
	return errors.Join(errs...)
}
