// Package config is Rotor's typed configuration (docs/configuration.md): the Config
// struct with its defaults, validation that names every bad field by its
// dotted path, loading from defaults, a YAML file, ROTOR_* environment
// variables and command-line flags, and a generator for a commented file.
//
// It is the only package that reads files, the environment and flags for
// settings; every other package takes typed values from it.
package config

import (
	"log/slog"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/redis"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/hooks"
)

// Config is the whole configuration, shaped like the YAML file of docs/configuration.md.
// Its koanf tags are the YAML keys.
type Config struct {
	HTTP      HTTP      `koanf:"http"`
	Engine    Engine    `koanf:"engine"`
	Structure Structure `koanf:"structure"`
	Client    Client    `koanf:"client"`
	Hooks     Hooks     `koanf:"hooks"`
	Admin     Admin     `koanf:"admin"`
	Limits    Limits    `koanf:"limits"`
	Log       Log       `koanf:"log"`
}

// HTTP is the listener.
type HTTP struct {
	// Address is the host:port to listen on. Default ":8000"; must not be empty.
	Address string `koanf:"address"`
	// TLSCert is a PEM certificate file; with TLSKey it turns on HTTPS with
	// HTTP/2. Zero value: plain HTTP.
	TLSCert string `koanf:"tls_cert"`
	// TLSKey is the PEM private key file for TLSCert. Zero value: plain HTTP.
	TLSKey string `koanf:"tls_key"`
	// H2C serves cleartext HTTP/2 for proxies that speak it. Zero value: off.
	H2C bool `koanf:"h2c"`
	// Ping is the longest silence on an SSE stream (the heartbeat fills
	// it) and the "ping" of the connect reply. Default 20s; must be
	// positive.
	Ping time.Duration `koanf:"ping"`
	// ShutdownTimeout bounds a graceful shutdown: streams get disconnect
	// 3001, then the server waits this long for requests to finish.
	// Default 10s; 0 means close at once.
	ShutdownTimeout time.Duration `koanf:"shutdown_timeout"`
	// Padding is a comment of this many bytes sent first on every SSE
	// stream, for proxies that buffer the first bytes of a response.
	// Zero value: none.
	Padding int `koanf:"padding"`
	// StreamLifetime ends each SSE stream after about this long (±10%)
	// with disconnect 3000 and reconnect true; clients resume, which
	// spreads load after deploys. Zero value: unlimited.
	StreamLifetime time.Duration `koanf:"stream_lifetime"`
	// ClientIPHeader names a header set by a trusted proxy that carries
	// the client address (e.g. X-Real-IP; of a list, the last entry), for
	// limits.connections_per_ip and the admin login limit.
	// Zero value: the connection's remote address; never trust a header
	// a client can set directly.
	ClientIPHeader string `koanf:"client_ip_header"`
	// BodyTimeout bounds receiving one request body (/connect, /command,
	// /api/*, the admin UI): a slower body is answered 408. Streams are
	// not bound by it. Default 10s; must be positive.
	BodyTimeout time.Duration `koanf:"body_timeout"`
	// MetricsAddress is a host:port where /metrics is served on its own
	// listener, and then no longer on Address. Zero value: /metrics is
	// served on Address, next to the client endpoints.
	MetricsAddress string `koanf:"metrics_address"`
}

// Engine selects the pub/sub engine (docs/scaling.md).
type Engine struct {
	// Type is "memory" (one process, the default) or "redis".
	Type string `koanf:"type"`
	// RedisURL is a redis://, rediss:// or redis-sentinel:// URL, or several
	// separated by commas for a Cluster. Required when Type is "redis";
	// zero value: none.
	RedisURL string `koanf:"redis_url"`
	// Prefix starts every Redis key and pub/sub topic, so that several
	// Rotor installations can share one Redis. Default "rotor"; no braces
	// or spaces. Every node of one installation must use the same.
	Prefix string `koanf:"prefix"`
	// Timeout bounds dialing Redis and each read and write (the URL's
	// dial_timeout, read_timeout and write_timeout win where set), so a
	// call fails with 112 instead of hanging when Redis is away; an engine
	// call takes at most three times it. Default 1s; must be positive.
	Timeout time.Duration `koanf:"timeout"`
	// IdempotencyWindow is how long the server API remembers a publish's
	// idempotency_key, so that a retry with it publishes nothing. Default
	// 5m; must be positive.
	IdempotencyWindow time.Duration `koanf:"idempotency_window"`
}

// Engine types.
const (
	EngineMemory = "memory"
	EngineRedis  = "redis"
)

// Structure says where projects and namespaces live (docs/admin.md, Read-only mode).
type Structure struct {
	// Store is "sqlite" (editable, the default; with the Redis engine
	// this node owns the structure and copies it into Redis), "file"
	// (read-only, from Projects below) or "engine" (read-only, the
	// snapshot the sqlite node wrote into Redis; needs engine.type redis).
	Store string `koanf:"store"`
	// SQLitePath is the SQLite database file. Default "rotor.db"; required
	// when Store is "sqlite".
	SQLitePath string `koanf:"sqlite_path"`
	// Projects is the structure when Store is "file". Zero value: none
	// (an error with the file store). Ignored, but still validated, with
	// the SQLite store.
	Projects []Project `koanf:"projects"`
}

// Structure stores.
const (
	StoreSQLite = "sqlite"
	StoreFile   = "file"
	StoreEngine = "engine"
)

// Project is structure.Project as written in the config file; see
// structure.Project for the meaning of each field. Convert with Admin.
type Project struct {
	ID               string   `koanf:"id"`
	Name             string   `koanf:"name"`
	Secret           string   `koanf:"secret"`
	APIKey           string   `koanf:"api_key"`
	DefaultNamespace string   `koanf:"default_namespace"` // zero value: "default"
	AuthURL          string   `koanf:"auth_url"`
	PublishHookURL   string   `koanf:"publish_hook_url"`
	EventsHookURL    string   `koanf:"events_hook_url"`
	AllowedOrigins   []string `koanf:"allowed_origins"` // other origins that may connect; the server's own always may
	Anonymous        bool     `koanf:"anonymous"`
	// Namespaces of the project. Zero value: one namespace named after
	// DefaultNamespace with the defaults of Namespace.
	Namespaces []Namespace `koanf:"namespaces"`
}

// Namespace is structure.Namespace as written in the config file. Keys left
// out of the file take the documented defaults (history_size 100,
// history_ttl 5m, watch true), not Go zero values.
type Namespace struct {
	Name        string        `koanf:"name"`
	Publish     bool          `koanf:"publish"`
	Anonymous   bool          `koanf:"anonymous"`
	Presence    bool          `koanf:"presence"`
	JoinLeave   bool          `koanf:"join_leave"`
	HistorySize int           `koanf:"history_size"` // publications; 0 turns history off
	HistoryTTL  time.Duration `koanf:"history_ttl"`
	Watch       bool          `koanf:"watch"`
}

// Admin converts the config-file project to the admin type.
func (p Project) Admin() structure.Project {
	out := structure.Project{
		ID:               p.ID,
		Name:             p.Name,
		Secret:           p.Secret,
		APIKey:           p.APIKey,
		DefaultNamespace: p.DefaultNamespace,
		AuthURL:          p.AuthURL,
		PublishHookURL:   p.PublishHookURL,
		EventsHookURL:    p.EventsHookURL,
		AllowedOrigins:   append([]string(nil), p.AllowedOrigins...),
		Anonymous:        p.Anonymous,
		Namespaces:       make([]structure.Namespace, 0, len(p.Namespaces)),
	}
	for _, ns := range p.Namespaces {
		out.Namespaces = append(out.Namespaces, structure.Namespace(ns))
	}
	return out
}

// AdminProjects returns the configured projects as admin types, ready for
// admin.NewStaticStore.
func (s Structure) AdminProjects() []structure.Project {
	out := make([]structure.Project, 0, len(s.Projects))
	for _, p := range s.Projects {
		out = append(out, p.Admin())
	}
	return out
}

// Client holds settings of browser connections.
type Client struct {
	// LeaveGrace is how long after a client's last stream closes its leave
	// is sent (docs/protocol.md, Presence and join/leave). Default 5s; 0 means at once.
	LeaveGrace time.Duration `koanf:"leave_grace"`
	// MaxBody bounds every request body of the client endpoints and the
	// server API, in bytes: a larger one is answered 413. Default 65536;
	// must be positive.
	MaxBody int64 `koanf:"max_body"`
	// PresenceTTL is how long presence survives a node that died. Default
	// 60s; must be positive.
	PresenceTTL time.Duration `koanf:"presence_ttl"`
	// SessionTTL is the lifetime of the session /connect signs when the
	// connection token has no exp, and how long revocations are kept.
	// Default 24h; must be positive.
	SessionTTL time.Duration `koanf:"session_ttl"`
}

// Hooks holds settings of calls to the application (docs/protocol.md, Private channels and Hooks).
type Hooks struct {
	// Timeout bounds auth_url and publish_hook_url calls. Default 3s; must
	// be positive.
	Timeout time.Duration `koanf:"timeout"`
	// Retries is how many times a failed events_hook_url batch is retried
	// with backoff. Default 5; 0 means never retried.
	Retries int `koanf:"retries"`
	// EventsQueueBytes bounds, per project, the events waiting for or in
	// delivery to events_hook_url, in bytes; when full the oldest are
	// dropped. Default 16 MiB; must be positive.
	EventsQueueBytes int64 `koanf:"events_queue_bytes"`
}

// Admin holds the admin UI and global API key settings (docs/admin.md).
type Admin struct {
	// PasswordHash is the bcrypt hash of the admin UI password. Zero value:
	// no password login (dev mode prints a password when there is no config
	// at all).
	PasswordHash string `koanf:"password_hash"`
	// APIKey is the global key for /api/* on every project and for
	// /api/admin/*. Zero value: no global key.
	APIKey string `koanf:"api_key"`
	// SessionKey signs admin UI session cookies. Give every node the same
	// key so a login works on all of them without sticky sessions; at
	// least MinSessionKeyLen characters. Zero value: a random key per
	// process (a restart logs everyone out).
	SessionKey string `koanf:"session_key"`
}

// MinSessionKeyLen is the shortest admin.session_key accepted: 32
// characters, as many as the random bytes of a key made per process.
const MinSessionKeyLen = 32

// Limits bound what one client, IP or key may use. Where 0 means a
// default, the Effective* methods return the value to use.
type Limits struct {
	// QueueBytes bounds each stream's outgoing queue, in bytes; a stream
	// whose queue is full is disconnected as a slow consumer (3002).
	// 0 means 1 MiB.
	QueueBytes int `koanf:"queue_bytes"`
	// ChannelsPerStream bounds the channels one stream carries. 0 means 128.
	ChannelsPerStream int `koanf:"channels_per_stream"`
	// ConnectionsPerIP bounds open streams and polls from one IP address;
	// request bodies still arriving count too. 0 means unlimited.
	ConnectionsPerIP int `koanf:"connections_per_ip"`
	// StreamsPerClient bounds the open streams of one client. 0 means
	// unlimited.
	StreamsPerClient int `koanf:"streams_per_client"`
	// ChannelsPerClient bounds the channels one client is subscribed to.
	// 0 means unlimited.
	ChannelsPerClient int `koanf:"channels_per_client"`
	// PublishRate bounds client publications per second, per client.
	// 0 means unlimited.
	PublishRate float64 `koanf:"publish_rate"`
	// CommandRate bounds client commands per second, per client (a token
	// bucket). 0 means 50.
	CommandRate float64 `koanf:"command_rate"`
	// CommandBurst is the bucket size for CommandRate, in commands.
	// 0 means 100.
	CommandBurst int `koanf:"command_burst"`
	// APIRate bounds server API requests per second, per API key.
	// 0 means unlimited.
	APIRate float64 `koanf:"api_rate"`
}

// EffectiveQueueBytes returns QueueBytes, or 1 MiB when it is 0.
func (l Limits) EffectiveQueueBytes() int {
	return orDefault(l.QueueBytes, node.DefaultOptions().QueueBytes)
}

// EffectiveChannelsPerStream returns ChannelsPerStream, or 128 when it is 0.
func (l Limits) EffectiveChannelsPerStream() int {
	return orDefault(l.ChannelsPerStream, node.DefaultOptions().ChannelsPerStream)
}

// EffectiveCommandRate returns CommandRate, or 50 when it is 0.
func (l Limits) EffectiveCommandRate() float64 {
	return orDefault(l.CommandRate, node.DefaultOptions().Limits.CommandRate)
}

// EffectiveCommandBurst returns CommandBurst, or 100 when it is 0.
func (l Limits) EffectiveCommandBurst() int {
	return orDefault(l.CommandBurst, node.DefaultOptions().Limits.CommandBurst)
}

func orDefault[T int | float64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Log configures the slog logger.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `koanf:"level"`
	// Format is text or json. Default text.
	Format string `koanf:"format"`
}

// SlogLevel returns Level as a slog.Level; an unknown level (which
// Validate refuses) is info.
func (l Log) SlogLevel() slog.Level {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(l.Level)); err != nil {
		return slog.LevelInfo
	}
	return lv
}

// Default returns the configuration used when nothing is set: the defaults
// of docs/configuration.md, memory engine, SQLite structure in rotor.db.
func Default() *Config {
	nd := node.DefaultOptions()
	return &Config{
		HTTP: HTTP{
			Address:         ":8000",
			Ping:            20 * time.Second,
			ShutdownTimeout: 10 * time.Second,
			BodyTimeout:     10 * time.Second,
		},
		Engine:    Engine{Type: EngineMemory, Prefix: redis.DefaultPrefix, Timeout: redis.DefaultTimeout, IdempotencyWindow: pubsub.DefaultIdempotencyWindow},
		Structure: Structure{Store: StoreSQLite, SQLitePath: "rotor.db"},
		Client: Client{
			LeaveGrace:  nd.LeaveGrace,
			MaxBody:     nd.MaxData,
			PresenceTTL: nd.PresenceTTL,
			SessionTTL:  nd.SessionTTL,
		},
		Hooks: Hooks{Timeout: nd.HookTimeout, Retries: hooks.DefaultRetries, EventsQueueBytes: hooks.DefaultQueueBytes},
		Log:   Log{Level: "info", Format: "text"},
	}
}
