package config

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rotor.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func flagSet(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	fs.String("config", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

// fieldsOf returns the dotted paths named by the *FieldErrors inside err.
func fieldsOf(err error) []string {
	var out []string
	for _, e := range unjoin(err) {
		var fe *FieldError
		if errors.As(e, &fe) {
			out = append(out, fe.Field)
		}
	}
	slices.Sort(out)
	return out
}

func TestDefaultValidates(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestLoadNothingIsDefault(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", nil, flagSet(t))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("Load with nothing = %+v, want Default()", cfg)
	}
}

func TestPrecedence(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "http:\n  address: \":1000\"\n  ping: 7s\nlog:\n  level: warn\n")
	tests := []struct {
		name    string
		env     []string
		args    []string
		address string
		ping    time.Duration
		level   string
	}{
		{"file", nil, nil, ":1000", 7 * time.Second, "warn"},
		{"env over file", []string{"ROTOR_HTTP_ADDRESS=:2000", "PATH=/bin"}, nil, ":2000", 7 * time.Second, "warn"},
		{"flag over env", []string{"ROTOR_HTTP_ADDRESS=:2000", "ROTOR_LOG_LEVEL=error"}, []string{"--http.address=:3000"}, ":3000", 7 * time.Second, "error"},
		{"flag over file", nil, []string{"--http.ping=9s", "--log.level=debug"}, ":1000", 9 * time.Second, "debug"},
		{"unset flag keeps file", nil, []string{"--config=x"}, ":1000", 7 * time.Second, "warn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := Load(file, tt.env, flagSet(t, tt.args...))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.HTTP.Address != tt.address || cfg.HTTP.Ping != tt.ping || cfg.Log.Level != tt.level {
				t.Fatalf("got address %q ping %v level %q, want %q %v %q",
					cfg.HTTP.Address, cfg.HTTP.Ping, cfg.Log.Level, tt.address, tt.ping, tt.level)
			}
		})
	}
}

func TestEnvKeysWithUnderscores(t *testing.T) {
	t.Parallel()
	env := []string{
		"ROTOR_HTTP_TLS_CERT=/c.pem", "ROTOR_HTTP_TLS_KEY=/k.pem", "ROTOR_HTTP_H2C=true",
		"ROTOR_ENGINE_TYPE=redis", "ROTOR_ENGINE_REDIS_URL=redis://127.0.0.1:6379/0",
		"ROTOR_STRUCTURE_SQLITE_PATH=/tmp/x.db", "ROTOR_LIMITS_COMMAND_RATE=2.5",
		"ROTOR_CLIENT_MAX_BODY=1024", "ROTOR_HTTP_SHUTDOWN_TIMEOUT=1m",
		"ROTOR_ENGINE_IDEMPOTENCY_WINDOW=90s",
	}
	cfg, err := Load("", env, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.HTTP.TLSCert, want.HTTP.TLSKey, want.HTTP.H2C = "/c.pem", "/k.pem", true
	want.Engine.Type, want.Engine.RedisURL = EngineRedis, "redis://127.0.0.1:6379/0"
	want.Engine.IdempotencyWindow = 90 * time.Second
	want.Structure.SQLitePath = "/tmp/x.db"
	want.Limits.CommandRate = 2.5
	want.Client.MaxBody = 1024
	want.HTTP.ShutdownTimeout = time.Minute
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
}

func TestRedisURLShortFlag(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", nil, flagSet(t, "--engine.type=redis", "--redis-url=redis://h:1"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Engine.RedisURL != "redis://h:1" {
		t.Fatalf("redis_url = %q", cfg.Engine.RedisURL)
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "http:\n  address: \":1234\"\n")
	cfg, err := Load("", []string{"ROTOR_CONFIG=" + file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Address != ":1234" {
		t.Fatalf("address = %q", cfg.HTTP.Address)
	}
}

func TestUnknownKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		env  []string
		want []string // substrings of the error
	}{
		{"top level", "htp:\n  address: x\n", nil, []string{"htp: unknown key"}},
		{"nested", "http:\n  adress: \":1\"\n", nil, []string{"http.adress: unknown key"}},
		{"in project", "structure:\n  projects:\n    - id: a\n      secrt: x\n", nil,
			[]string{"structure.projects[0].secrt: unknown key"}},
		{"in namespace", "structure:\n  projects:\n    - id: a\n      namespaces:\n        - name: b\n          histroy: 1\n", nil,
			[]string{"structure.projects[0].namespaces[0].histroy: unknown key"}},
		{"env", "", []string{"ROTOR_HTTP_ADRESS=:1", "ROTOR_NOPE=1"},
			[]string{"unknown environment variable ROTOR_HTTP_ADRESS", "unknown environment variable ROTOR_NOPE"}},
		{"duration without unit", "http:\n  ping: 20\n", nil, []string{"http.ping", "no unit"}},
		{"all at once", "http:\n  ping: 20\n  adress: x\nengine:\n  type: foo\n", []string{"ROTOR_X=1"},
			[]string{"http.ping: 20 has no unit", "http.adress: unknown key", "engine.type: must be", "ROTOR_X"}},
		{"bad duration", "client:\n  leave_grace: soon\n", nil, []string{"client.leave_grace", "not a duration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeFile(t, tt.yaml), tt.env, nil)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateListsEveryProblem(t *testing.T) {
	t.Parallel()
	c := Default()
	c.HTTP.Address = ""
	c.HTTP.TLSCert = "c.pem"
	c.HTTP.Ping = 0
	c.HTTP.ShutdownTimeout = -1
	c.HTTP.BodyTimeout = 0
	c.HTTP.MetricsAddress = "no-port"
	c.Engine.Type = "etcd"
	c.Engine.RedisURL = "http://x"
	c.Engine.Prefix = "a{b}"
	c.Admin.SessionKey = "too-short"
	c.Structure.Store = "mysql"
	c.Structure.Projects = []Project{
		{
			ID: "Bad Id", Secret: "short", DefaultNamespace: "missing", AuthURL: "ftp://x",
			Namespaces: []Namespace{
				{Name: "ok", HistorySize: 1, HistoryTTL: time.Second},
				{Name: "n", HistorySize: 10},
				{Name: "n", HistorySize: -1, HistoryTTL: -1},
			},
		},
		{ID: "p", Secret: strings.Repeat("s", 32), APIKey: "k", DefaultNamespace: "d", Namespaces: []Namespace{{Name: "d"}}},
		{ID: "p", Secret: strings.Repeat("s", 32), APIKey: "k", DefaultNamespace: "d", Namespaces: []Namespace{{Name: "d"}}},
	}
	c.Client = Client{LeaveGrace: -1, MaxBody: 0, PresenceTTL: 0}
	c.Hooks = Hooks{Timeout: 0, Retries: -1}
	c.Admin.PasswordHash = "plain"
	c.Limits = Limits{-1, -1, -1, -1, -1, -1, -1, -1, -1}
	c.Log = Log{Level: "loud", Format: "xml"}

	want := []string{
		"admin.password_hash", "admin.session_key",
		"client.leave_grace", "client.max_body", "client.presence_ttl", "client.session_ttl",
		"engine.prefix", "engine.redis_url", "engine.type",
		"hooks.events_queue_bytes", "hooks.retries", "hooks.timeout",
		"http.address", "http.body_timeout", "http.metrics_address", "http.ping", "http.shutdown_timeout", "http.tls_key",
		"limits.api_rate", "limits.channels_per_client", "limits.channels_per_stream",
		"limits.command_burst", "limits.command_rate", "limits.connections_per_ip",
		"limits.publish_rate", "limits.queue_bytes", "limits.streams_per_client",
		"log.format", "log.level",
		"structure.projects[0].api_key",
		"structure.projects[0].auth_url",
		"structure.projects[0].default_namespace",
		"structure.projects[0].id",
		"structure.projects[0].namespaces[1].history_ttl",
		"structure.projects[0].namespaces[2].history_size",
		"structure.projects[0].namespaces[2].history_ttl",
		"structure.projects[0].namespaces[2].name",
		"structure.projects[0].secret",
		"structure.projects[2].id",
		"structure.store",
	}
	got := fieldsOf(c.Validate())
	if !slices.Equal(got, want) {
		t.Fatalf("fields\n got %q\nwant %q", got, want)
	}
}

func TestValidateStoreRequirements(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"file without projects", func(c *Config) { c.Structure.Store = StoreFile }, []string{"structure.projects"}},
		{"sqlite without path", func(c *Config) { c.Structure.SQLitePath = "" }, []string{"structure.sqlite_path"}},
		{"redis without url", func(c *Config) { c.Engine.Type = EngineRedis }, []string{"engine.redis_url"}},
		{"tls key without cert", func(c *Config) { c.HTTP.TLSKey = "k" }, []string{"http.tls_cert"}},
		{"engine store with the memory engine", func(c *Config) { c.Structure.Store = StoreEngine }, []string{"structure.store"}},
		{"engine store with redis", func(c *Config) {
			c.Structure.Store = StoreEngine
			c.Engine.Type, c.Engine.RedisURL = EngineRedis, "redis://r:6379/0"
		}, nil},
		{"redis cluster urls", func(c *Config) {
			c.Engine.Type, c.Engine.RedisURL = EngineRedis, "redis://a:1, redis://b:2"
		}, nil},
		{"redis urls go-redis reads", func(c *Config) {
			c.Engine.Type, c.Engine.RedisURL = EngineRedis, "redis-sentinel://s1:26379,s2:26379/mymaster?dial_timeout=3s&pool_size=20"
		}, nil},
		{"redis url option go-redis refuses", func(c *Config) {
			c.Engine.Type, c.Engine.RedisURL = EngineRedis, "redis://h:6379?pool_size=many"
		}, []string{"engine.redis_url"}},
		{"empty redis prefix", func(c *Config) { c.Engine.Prefix = "" }, []string{"engine.prefix"}},
		{"session key of 32 characters", func(c *Config) { c.Admin.SessionKey = strings.Repeat("k", 32) }, nil},
		{"session key of 31 characters", func(c *Config) { c.Admin.SessionKey = strings.Repeat("k", 31) }, []string{"admin.session_key"}},
		{"zero session ttl", func(c *Config) { c.Client.SessionTTL = 0 }, []string{"client.session_ttl"}},
		{"zero idempotency window", func(c *Config) { c.Engine.IdempotencyWindow = 0 }, []string{"engine.idempotency_window"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.modify(c)
			if got := fieldsOf(c.Validate()); !slices.Equal(got, tt.want) {
				t.Fatalf("fields = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProjectDefaultsFromFile(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("x", 32)
	file := writeFile(t, `
structure:
  store: file
  projects:
    - id: bare
      secret: "`+secret+`"
      api_key: k1
    - id: some
      secret: "`+secret+`"
      api_key: k2
      default_namespace: main
      namespaces:
        - name: main
          history_size: 0
          watch: false
        - name: chat
          presence: true
          history_ttl: 1m
`)
	cfg, err := Load(file, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Structure.AdminProjects()
	want := []structure.Project{
		{ID: "bare", Secret: secret, APIKey: "k1", DefaultNamespace: "default",
			Namespaces: []structure.Namespace{structure.DefaultNamespaceSettings("default")}},
		{ID: "some", Secret: secret, APIKey: "k2", DefaultNamespace: "main", Namespaces: []structure.Namespace{
			{Name: "main", HistorySize: 0, HistoryTTL: 5 * time.Minute, Watch: false},
			{Name: "chat", Presence: true, HistorySize: 100, HistoryTTL: time.Minute, Watch: true},
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("projects\n got %+v\nwant %+v", got, want)
	}
	if _, err := admin.NewStaticStore(got); err != nil {
		t.Fatalf("NewStaticStore: %v", err)
	}
}

// TestProjectFieldsMatchAdmin guards the config-side Project and Namespace
// against drifting from admin's: every json key there is a koanf key here.
func TestProjectFieldsMatchAdmin(t *testing.T) {
	t.Parallel()
	keys := func(t reflect.Type, tag string) []string {
		var out []string
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get(tag), ",")
			out = append(out, name)
		}
		return out
	}
	for _, pair := range [][2]reflect.Type{
		{reflect.TypeFor[structure.Project](), reflect.TypeFor[Project]()},
		{reflect.TypeFor[structure.Namespace](), reflect.TypeFor[Namespace]()},
	} {
		if a, c := keys(pair[0], "json"), keys(pair[1], "koanf"); !slices.Equal(a, c) {
			t.Errorf("%v keys %q, config %v keys %q", pair[0], a, pair[1], c)
		}
	}
}

func TestGenerateRoundTrips(t *testing.T) {
	t.Parallel()
	var a, b bytes.Buffer
	if err := Generate(&a); err != nil {
		t.Fatal(err)
	}
	if err := Generate(&b); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(writeFile(t, a.String()), nil, nil)
	if err != nil {
		t.Fatalf("Load(genconfig output): %v\n%s", err, a.String())
	}
	// Every leaf key is written out, with its default.
	for _, p := range leafPaths() {
		last := p[strings.LastIndex(p, ".")+1:]
		if !strings.Contains(a.String(), "  "+last+":") {
			t.Errorf("generated config lacks %s", p)
		}
	}
	want := Default()
	want.Structure.Store = StoreFile // so that the project in the file works at once
	want.Structure.Projects = cfg.Structure.Projects
	want.Admin.APIKey = cfg.Admin.APIKey
	want.Admin.SessionKey = cfg.Admin.SessionKey
	if len(cfg.Admin.SessionKey) < MinSessionKeyLen {
		t.Errorf("generated admin.session_key %q is too short", cfg.Admin.SessionKey)
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("generated config differs from defaults:\n got %+v\nwant %+v", cfg, want)
	}
	p := cfg.Structure.Projects[0]
	if len(p.Secret) < 43 || len(p.APIKey) < 43 || len(cfg.Admin.APIKey) < 43 {
		t.Errorf("secrets too short: %q %q %q", p.Secret, p.APIKey, cfg.Admin.APIKey)
	}
	if p.Secret == p.APIKey || p.Secret == cfg.Admin.APIKey {
		t.Error("secrets repeat")
	}
	// Only the server's own origin may use the session cookie until the
	// operator names others.
	if len(p.AllowedOrigins) != 0 {
		t.Errorf("generated allowed_origins = %q, want none", p.AllowedOrigins)
	}
	if a.String() == b.String() {
		t.Error("two runs wrote the same secrets")
	}
	// The generated file must also pass with the file store.
	cfg.Structure.Store = StoreFile
	if err := cfg.Validate(); err != nil {
		t.Errorf("with store file: %v", err)
	}
}

func TestEffectiveLimits(t *testing.T) {
	t.Parallel()
	var l Limits
	if l.EffectiveQueueBytes() != 1<<20 || l.EffectiveChannelsPerStream() != 128 ||
		l.EffectiveCommandRate() != 50 || l.EffectiveCommandBurst() != 100 {
		t.Fatalf("zero-value defaults wrong: %+v", l)
	}
	l = Limits{QueueBytes: 5, ChannelsPerStream: 6, CommandRate: 7, CommandBurst: 8}
	if l.EffectiveQueueBytes() != 5 || l.EffectiveChannelsPerStream() != 6 ||
		l.EffectiveCommandRate() != 7 || l.EffectiveCommandBurst() != 8 {
		t.Fatalf("set values not kept: %+v", l)
	}
}
