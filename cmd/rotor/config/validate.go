package config

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode"

	"github.com/rotor-rt/rotor/pubsub/redis"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// FieldError names one invalid setting by its dotted path, like
// "engine.type" or "structure.projects[0].namespaces[1].history_ttl".
type FieldError = structure.FieldError

// Validate checks every setting and returns all problems at once, joined
// with errors.Join, each a *FieldError naming the dotted path.
func (c *Config) Validate() error {
	var v validator
	c.validateHTTP(&v)
	c.validateEngine(&v)
	c.validateStructure(&v)
	if c.Client.LeaveGrace < 0 {
		v.bad("client.leave_grace", "must not be negative")
	}
	if c.Client.MaxBody <= 0 {
		v.bad("client.max_body", "must be a positive number of bytes")
	}
	if c.Client.SessionTTL <= 0 {
		v.bad("client.session_ttl", "must be a positive duration")
	}
	if c.Client.PresenceTTL <= 0 {
		v.bad("client.presence_ttl", "must be a positive duration")
	}
	if c.Hooks.Timeout <= 0 {
		v.bad("hooks.timeout", "must be a positive duration")
	}
	if c.Hooks.Retries < 0 {
		v.bad("hooks.retries", "must not be negative")
	}
	if c.Hooks.EventsQueueBytes <= 0 {
		v.bad("hooks.events_queue_bytes", "must be a positive number of bytes")
	}
	if h := c.Admin.PasswordHash; h != "" && !strings.HasPrefix(h, "$2") {
		v.bad("admin.password_hash", "must be a bcrypt hash ($2a$..., $2b$...)")
	}
	if k := c.Admin.SessionKey; k != "" && len(k) < MinSessionKeyLen {
		v.bad("admin.session_key", "must be at least %d characters (rotor genconfig makes one), or empty for a random key per process", MinSessionKeyLen)
	}
	c.validateLimits(&v)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.bad("log.level", "must be debug, info, warn or error, not %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		v.bad("log.format", "must be text or json, not %q", c.Log.Format)
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) bad(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (c *Config) validateHTTP(v *validator) {
	if c.HTTP.Address == "" {
		v.bad("http.address", "must not be empty")
	} else if _, _, err := net.SplitHostPort(c.HTTP.Address); err != nil {
		v.bad("http.address", "must be host:port or :port: %v", err)
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		if c.HTTP.TLSCert == "" {
			v.bad("http.tls_cert", "must be set with http.tls_key")
		} else {
			v.bad("http.tls_key", "must be set with http.tls_cert")
		}
	}
	if c.HTTP.Padding < 0 || c.HTTP.Padding > 64<<10 {
		v.bad("http.padding", "must be between 0 and 65536 bytes")
	}
	if c.HTTP.StreamLifetime < 0 {
		v.bad("http.stream_lifetime", "must not be negative")
	}
	if c.HTTP.Ping <= 0 {
		v.bad("http.ping", "must be a positive duration")
	}
	if c.HTTP.ShutdownTimeout < 0 {
		v.bad("http.shutdown_timeout", "must not be negative")
	}
	if c.HTTP.BodyTimeout <= 0 {
		v.bad("http.body_timeout", "must be a positive duration")
	}
	if a := c.HTTP.MetricsAddress; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.bad("http.metrics_address", "must be host:port or :port: %v", err)
		} else if a == c.HTTP.Address {
			v.bad("http.metrics_address", "must differ from http.address")
		}
	}
}

func (c *Config) validateEngine(v *validator) {
	if c.Engine.IdempotencyWindow <= 0 {
		v.bad("engine.idempotency_window", "must be a positive duration")
	}
	switch c.Engine.Type {
	case EngineMemory:
	case EngineRedis:
		if c.Engine.RedisURL == "" {
			v.bad("engine.redis_url", "must be set when engine.type is redis")
		}
	default:
		v.bad("engine.type", "must be memory or redis, not %q", c.Engine.Type)
	}
	if c.Engine.RedisURL != "" {
		if err := redis.CheckURL(c.Engine.RedisURL); err != nil {
			v.bad("engine.redis_url", "%v", err)
		}
	}
	if c.Engine.Prefix == "" {
		v.bad("engine.prefix", "must not be empty")
	} else if strings.ContainsAny(c.Engine.Prefix, "{}") || strings.ContainsFunc(c.Engine.Prefix, unicode.IsSpace) {
		v.bad("engine.prefix", "must not contain braces or spaces, not %q", c.Engine.Prefix)
	}
	if c.Engine.Timeout <= 0 {
		v.bad("engine.timeout", "must be positive, not %s", c.Engine.Timeout)
	}
}

func (c *Config) validateStructure(v *validator) {
	switch c.Structure.Store {
	case StoreSQLite:
		if c.Structure.SQLitePath == "" {
			v.bad("structure.sqlite_path", "must be set when structure.store is sqlite")
		}
	case StoreFile:
		if len(c.Structure.Projects) == 0 {
			v.bad("structure.projects", "must list at least one project when structure.store is file")
		}
	case StoreEngine:
		if c.Engine.Type != EngineRedis {
			v.bad("structure.store", "engine reads the structure another node wrote into Redis, so it needs engine.type redis (with %q there is no shared engine): use sqlite or file", c.Engine.Type)
		}
	default:
		v.bad("structure.store", "must be sqlite, file or engine, not %q", c.Structure.Store)
	}
	seen := map[string]bool{}
	for i, p := range c.Structure.Projects {
		prefix := fmt.Sprintf("structure.projects[%d]", i)
		ap := p.Admin()
		if err := errors.Join(ap.Validate(), ap.CheckEndpoints()); err != nil {
			for _, e := range unjoin(err) {
				var fe *structure.FieldError
				if errors.As(e, &fe) {
					v.bad(prefix+"."+fe.Field, "%s", fe.Message)
				} else {
					v.bad(prefix, "%v", e)
				}
			}
		}
		if p.ID != "" && seen[p.ID] {
			v.bad(prefix+".id", "duplicate project id %q", p.ID)
		}
		seen[p.ID] = true
	}
}

func (c *Config) validateLimits(v *validator) {
	for _, f := range []struct {
		name string
		val  float64
	}{
		{"queue_bytes", float64(c.Limits.QueueBytes)},
		{"channels_per_stream", float64(c.Limits.ChannelsPerStream)},
		{"connections_per_ip", float64(c.Limits.ConnectionsPerIP)},
		{"streams_per_client", float64(c.Limits.StreamsPerClient)},
		{"channels_per_client", float64(c.Limits.ChannelsPerClient)},
		{"publish_rate", c.Limits.PublishRate},
		{"command_rate", c.Limits.CommandRate},
		{"command_burst", float64(c.Limits.CommandBurst)},
		{"api_rate", c.Limits.APIRate},
	} {
		if f.val < 0 {
			v.bad("limits."+f.name, "must not be negative")
		}
	}
}

// unjoin flattens an errors.Join tree into its leaves.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// Warnings returns settings that are valid but probably not what was
// meant, for checkconfig to print and serve to log.
func (c *Config) Warnings() []string {
	var out []string
	if c.Structure.Store == StoreSQLite && len(c.Structure.Projects) > 0 {
		out = append(out, fmt.Sprintf("structure.projects is ignored with structure.store: sqlite (%d projects); set structure.store: file to serve them, or create them in the admin UI", len(c.Structure.Projects)))
	}
	return out
}
