package config

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"text/template"
)

// NewSecret returns 32 bytes from crypto/rand, base64url without padding
// (43 characters): enough for a project secret (at least 32 bytes) or an API key.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Generate writes a fully commented YAML configuration with every key at
// its default and fresh random secrets for the demo project, the global
// admin key and the admin session key. Load accepts its output and Validate passes it.
func Generate(w io.Writer) error {
	var vals struct{ Secret, APIKey, AdminKey, SessionKey string }
	for _, p := range []*string{&vals.Secret, &vals.APIKey, &vals.AdminKey, &vals.SessionKey} {
		s, err := NewSecret()
		if err != nil {
			return err
		}
		*p = s
	}
	if err := generated.Execute(w, vals); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}

var generated = template.Must(template.New("config").Parse(`# Rotor configuration (docs/configuration.md), written by "rotor genconfig".
# Every key can also be set as ROTOR_<PATH> in upper case with "_" between
# levels (http.address → ROTOR_HTTP_ADDRESS), and the common ones as flags
# (--http.address). Precedence: this file < environment < flags.
# Durations are Go durations: 300ms, 20s, 5m, 1h. Unknown keys are an error.
# Check a file with: rotor checkconfig --config rotor.yaml

http:
  address: ":8000"          # host:port to listen on
  tls_cert: ""              # PEM certificate; with tls_key: HTTPS with HTTP/2
  tls_key: ""               # PEM private key
  h2c: false                # cleartext HTTP/2 for proxies that speak it
  ping: 20s                 # longest silence on an SSE stream (heartbeat), also the connect reply's "ping"
  shutdown_timeout: 10s     # graceful shutdown bound; 0 closes at once
  padding: 0                # bytes of comment sent first on SSE streams, for buffering proxies; 0: none
  stream_lifetime: 0s       # end SSE streams after about this long (clients resume); 0: unlimited
  client_ip_header: ""      # header a trusted proxy sets with the client IP (X-Real-IP); "": remote address
  body_timeout: 10s         # a request body not received within this is answered 408
  metrics_address: ""       # host:port serving /metrics alone (then not on address); "": /metrics on address, public

engine:
  type: memory              # memory (one process) | redis (several nodes)
  # redis://[user:pass@]host:6379/0, rediss:// (TLS), unix:///run/redis.sock,
  # redis-sentinel://host:26379,host:26379/mastername, redis-cluster://host:7000,host:7001;
  # go-redis options in the query: ?dial_timeout=2s&pool_size=20&client_name=rotor-a
  redis_url: ""
  prefix: rotor             # starts every Redis key and topic; the same on every node
  idempotency_window: 5m    # how long a publish's idempotency_key is remembered (retries publish nothing)

structure:
  # file: the projects below, read-only, working at once (what this file starts with);
  # sqlite: projects kept in sqlite_path and edited in the admin UI (the built-in default);
  # engine: read-only, the snapshot a sqlite node wrote into Redis (nodes on other hosts).
  # With sqlite the projects below are ignored (serve warns); create projects in the
  # admin UI or with the admin API instead.
  store: file
  sqlite_path: rotor.db     # SQLite database, used when store is sqlite (created mode 0600)
  projects:
    - id: demo                        # slug: a-z, 0-9, _ and -, 1 to 64 characters
      name: Demo
      secret: "{{.Secret}}"   # HS256 key for tokens; 32 bytes or more
      api_key: "{{.APIKey}}"  # for Authorization: apikey <key>
      default_namespace: default      # namespace of channels without "ns:"
      auth_url: ""                    # POST here to authorize $private channels
      publish_hook_url: ""            # POST here before a client's publication
      events_hook_url: ""             # POST batches of events here, after the fact
      allowed_origins: []             # other origins whose pages may connect, e.g. ["https://app.example.com"]; this server's own always may; "*": any page, without cookies
      anonymous: false                # may clients connect without a token
      namespaces:
        - name: default
          publish: false              # may clients publish
          anonymous: false            # may anonymous clients subscribe
          presence: true              # keep who is subscribed
          join_leave: true            # send join and leave events
          history_size: 100           # publications kept per channel; 0 turns history off
          history_ttl: 300s           # history kept this long after the last publication
          watch: true                 # admins may watch it live

client:
  leave_grace: 5s           # leave is sent this long after a client's last stream closes
  max_body: 65536           # bytes, every client and API request body; larger is 413
  presence_ttl: 60s         # presence of a dead node expires after this
  session_ttl: 24h          # session signed by /connect when the token has no exp

hooks:
  timeout: 3s               # auth_url and publish_hook_url calls
  retries: 5                # events_hook_url retries, with backoff; 0 never retries
  events_queue_bytes: 16777216  # bytes of events queued per project for events_hook_url; oldest dropped when full

admin:
  password_hash: ""         # bcrypt hash of the admin UI password; empty: no password login
  api_key: "{{.AdminKey}}"  # global key for /api/* on every project and /api/admin/*
  session_key: "{{.SessionKey}}"  # signs admin logins; the same on every node; "": random per process

limits:
  queue_bytes: 0            # bytes queued per stream before it is cut as slow; 0 means 1 MiB
  channels_per_stream: 0    # channels on one stream; 0 means 128
  connections_per_ip: 0     # open streams, polls and arriving bodies per IP; 0 means unlimited
  streams_per_client: 0     # open streams per client; 0 means unlimited
  channels_per_client: 0    # subscribed channels per client; 0 means unlimited
  publish_rate: 0           # client publications per second per client; 0 means unlimited
  command_rate: 0           # client commands per second per client; 0 means 50
  command_burst: 0          # commands allowed in a burst; 0 means 100
  api_rate: 0               # server API requests per second per key; 0 means unlimited

log:
  level: info               # debug | info | warn | error
  format: text              # text | json
`))
