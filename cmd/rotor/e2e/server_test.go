package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Test project: every server started here serves it from the config file.
const (
	project   = "p"
	secret    = "e2e-secret-0123456789abcdef0123456789abcdef"
	apiKey    = "e2e-api-key"
	startWait = 20 * time.Second
)

// serverConfig is what a test varies in the generated config file.
type serverConfig struct {
	Addr            string // host:port; empty picks a free loopback port
	TLSCert, TLSKey string
	H2C             bool
	Ping            time.Duration // 0 means 20s (the default)
	ShutdownTimeout time.Duration // 0 means 5s
	RedisURL        string        // non-empty selects the Redis engine
	QueueBytes      int           // limits.queue_bytes; 0 means the default
	Padding         int           // http.padding
	StreamLifetime  time.Duration // http.stream_lifetime; 0 means unlimited
	ClientIPHeader  string        // http.client_ip_header
	AdminHash       string        // admin.password_hash; empty turns the admin UI off
	AdminAPIKey     string        // admin.api_key; empty turns /api/admin off
	SessionKey      string        // admin.session_key
	MetricsAddr     string        // http.metrics_address; empty serves /metrics on Addr
	BodyTimeout     time.Duration // http.body_timeout; 0 means 10s (the default)
	RedisPrefix     string        // engine.prefix; empty means the default
	SessionTTL      time.Duration // client.session_ttl; 0 means the default
	LogJSON         bool          // log.format: json
}

func (c serverConfig) yaml() string {
	ping, shut, body := c.Ping, c.ShutdownTimeout, c.BodyTimeout
	if body == 0 {
		body = 10 * time.Second
	}
	if ping == 0 {
		ping = 20 * time.Second
	}
	if shut == 0 {
		shut = 5 * time.Second
	}
	engine := "memory"
	if c.RedisURL != "" {
		engine = "redis"
	}
	prefix, sessionTTL, logFormat := c.RedisPrefix, c.SessionTTL, "text"
	if prefix == "" {
		prefix = "rotor"
	}
	if sessionTTL == 0 {
		sessionTTL = 24 * time.Hour
	}
	if c.LogJSON {
		logFormat = "json"
	}
	return fmt.Sprintf(`http:
  address: %q
  tls_cert: %q
  tls_key: %q
  h2c: %t
  ping: %s
  shutdown_timeout: %s
  padding: %d
  stream_lifetime: %s
  client_ip_header: %q
  metrics_address: %q
  body_timeout: %s
admin:
  password_hash: %q
  api_key: %q
  session_key: %q
engine:
  type: %s
  redis_url: %q
  prefix: %q
client:
  session_ttl: %s
structure:
  store: file
  projects:
    - id: %s
      name: E2E
      secret: %q
      api_key: %q
      allowed_origins: ["*"]
      namespaces:
        - name: default
          history_size: 10000
          history_ttl: 5m
limits:
  api_rate: 0
  queue_bytes: %d
log:
  level: warn
  format: %s
`, c.Addr, c.TLSCert, c.TLSKey, c.H2C, ping, shut, c.Padding, c.StreamLifetime, c.ClientIPHeader, c.MetricsAddr, body,
		c.AdminHash, c.AdminAPIKey, c.SessionKey, engine, c.RedisURL, prefix, sessionTTL, project, secret, apiKey, c.QueueBytes, logFormat)
}

// server is one `rotor serve` process owned by a test.
type server struct {
	t      *testing.T
	cfg    serverConfig
	path   string // config file
	base   string // http(s)://host:port
	client *http.Client
	dir    string // working directory of the process; "" is the test's

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been waited for
	err    error         // cmd.Wait's result, set before exited closes
	logs   *syncBuffer
}

// startServer writes cfg into a file and runs `rotor serve` with it until
// /healthz answers; the process is killed when the test ends.
func startServer(t *testing.T, cfg serverConfig) *server {
	t.Helper()
	pickPort := cfg.Addr == ""
	for attempt := 1; ; attempt++ {
		if pickPort {
			cfg.Addr = freeAddr(t)
		}
		s := newServer(t, cfg)
		err := s.start()
		if err == nil {
			t.Cleanup(s.kill)
			return s
		}
		// A port free a moment ago can be taken meanwhile (by the local
		// end of some outgoing connection): pick another.
		if !pickPort || !errors.Is(err, errAddrInUse) || attempt == 3 {
			t.Fatal(err)
		}
	}
}

func newServer(t *testing.T, cfg serverConfig) *server {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rotor.yaml")
	if err := os.WriteFile(path, []byte(cfg.yaml()), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cfg: cfg, path: path, base: "http://" + cfg.Addr}
	tr := &http.Transport{}
	if cfg.TLSCert != "" {
		s.base = "https://" + cfg.Addr
		tr.TLSClientConfig = &tls.Config{RootCAs: certPool(t, cfg.TLSCert)}
	}
	s.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return s
}

// errAddrInUse says the process could not listen on its port.
var errAddrInUse = errors.New("address already in use")

// start runs the process until /healthz answers 200.
func (s *server) start() error {
	s.mu.Lock()
	s.logs = &syncBuffer{}
	cmd := exec.Command(rotorBin, "serve", "--config", s.path)
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	cmd.Env = cleanEnv()
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		return fmt.Errorf("start rotor: %w", err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(exited)
	}()
	deadline := time.Now().Add(startWait)
	for {
		resp, err := s.client.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			if strings.Contains(s.logs.String(), "address already in use") {
				return fmt.Errorf("rotor on %s: %w", s.cfg.Addr, errAddrInUse)
			}
			return fmt.Errorf("rotor exited at start: %v\n%s", s.err, s.logs)
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("rotor on %s not healthy after %s (last error %v)\n%s", s.cfg.Addr, startWait, err, s.logs)
		}
	}
}

// cleanEnv is the test's environment without ROTOR_* variables, which
// would override the generated config.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ROTOR_") {
			env = append(env, kv)
		}
	}
	return env
}

// restart starts the process again with the same config, on the same port.
func (s *server) restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// terminate sends SIGTERM and returns a channel closed when the process
// has exited.
func (s *server) terminate() <-chan struct{} {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	return s.exited
}

// waitExit waits for the process to end after terminate and fails the test
// if it does not within the shutdown timeout plus a margin, or exits with
// an error.
func (s *server) waitExit(exited <-chan struct{}) {
	s.t.Helper()
	limit := s.cfg.ShutdownTimeout
	if limit == 0 {
		limit = 5 * time.Second
	}
	select {
	case <-exited:
	case <-time.After(limit + 10*time.Second):
		s.t.Fatalf("rotor did not exit within shutdown_timeout %s + 10s\n%s", limit, s.logs)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		s.t.Errorf("rotor exited with %v after SIGTERM\n%s", s.err, s.logs)
	}
}

func (s *server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Kill()
	<-exited
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// certPool trusts the PEM certificate in file.
func certPool(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", file)
	}
	return pool
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not true after %s", what, timeout)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
