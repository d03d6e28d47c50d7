package config

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"text/template"
)

// NewSecret returns 32 bytes from crypto/rand, base64url without padding
// (43 characters): enough for an HS256 key (SPEC §1) or an API key.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Generate writes a fully commented YAML configuration with every key at
// its default and fresh random secrets for the demo project and the
// global admin key. Load accepts its output and Validate passes it.
func Generate(w io.Writer) error {
	var vals struct{ Secret, APIKey, AdminKey string }
	for _, p := range []*string{&vals.Secret, &vals.APIKey, &vals.AdminKey} {
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

var generated = template.Must(template.New("config").Parse(`# Rotor configuration (SPEC §12), written by "rotor genconfig".
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
  ping: 20s                 # SSE heartbeat interval, also the connect reply's "ping"
  shutdown_timeout: 10s     # graceful shutdown bound; 0 closes at once
  padding: 0                # bytes of comment sent first on SSE streams, for buffering proxies; 0: none
  stream_lifetime: 0s       # end SSE streams after about this long (clients resume); 0: unlimited
  client_ip_header: ""      # header a trusted proxy sets with the client IP (X-Real-IP); "": remote address

engine:
  type: memory              # memory (one process) | redis (several nodes)
  redis_url: ""             # redis://, rediss://, redis-sentinel://, or several comma-separated for Cluster
  idempotency_window: 5m    # how long a publish's idempotency_key is remembered (retries publish nothing)

structure:
  store: sqlite             # sqlite (editable in the admin UI) | file (the projects below, read-only)
  sqlite_path: rotor.db     # SQLite database, used when store is sqlite
  # Used when store is file; validated but ignored with sqlite.
  projects:
    - id: demo                        # slug: a-z, 0-9, _ and -, 1 to 64 characters
      name: Demo
      secret: "{{.Secret}}"   # HS256 key for tokens; 32 bytes or more
      api_key: "{{.APIKey}}"  # for Authorization: apikey <key>
      default_namespace: default      # namespace of channels without "ns:"
      auth_url: ""                    # POST here to authorize $private channels
      publish_hook_url: ""            # POST here before a client's publication
      events_hook_url: ""             # POST batches of events here, after the fact
      allowed_origins: ["*"]          # CORS origins; empty means same origin only
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
  max_body: 65536           # bytes, client and API request bodies
  presence_ttl: 60s         # presence of a dead node expires after this

hooks:
  timeout: 3s               # auth_url and publish_hook_url calls
  retries: 5                # events_hook_url retries, with backoff; 0 never retries

admin:
  password_hash: ""         # bcrypt hash of the admin UI password; empty: no password login
  api_key: "{{.AdminKey}}"  # global key for /api/* on every project and /api/admin/*

limits:
  queue_bytes: 0            # bytes queued per stream before it is cut as slow; 0 means 1 MiB
  channels_per_stream: 0    # channels on one stream; 0 means 128
  connections_per_ip: 0     # open streams and polls per IP; 0 means unlimited
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
