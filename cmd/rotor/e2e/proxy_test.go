package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The proxies' configurations below are the ones docs/proxies.md shows,
// with two test-only changes: files live in a temporary directory, and the
// proxy's idle read timeout is 2s instead of 75s so the test proves in
// seconds that Rotor's heartbeat (http.ping) keeps a quiet stream open.

// nginxConf: TLS and HTTP/2 to clients, HTTP/1.1 with keep-alive to
// Rotor, no buffering.
const nginxConf = `daemon off;
master_process off;
worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log warn;

events {
    worker_connections 1024;
}

http {
    access_log {{dir}}/access.log;
    client_body_temp_path {{dir}}/client_body;
    proxy_temp_path {{dir}}/proxy;
    fastcgi_temp_path {{dir}}/fastcgi;
    uwsgi_temp_path {{dir}}/uwsgi;
    scgi_temp_path {{dir}}/scgi;

    upstream rotor {
        server {{upstream}};
        keepalive 32;
    }

    server {
        {{listen}}
        server_name localhost;
        ssl_certificate {{cert}};
        ssl_certificate_key {{key}};

        location / {
            proxy_pass http://rotor;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 2s;
        }
    }
}
`

// caddyConf: Caddy serves TLS with HTTP/2 and proxies with HTTP/1.1; it
// flushes text/event-stream at once, flush_interval -1 says so anyway.
const caddyConf = `{
	admin off
	auto_https off
	storage file_system {{dir}}/data
}

https://127.0.0.1:{{port}} {
	bind 127.0.0.1
	tls {{cert}} {{key}}
	reverse_proxy {{upstream}} {
		flush_interval -1
		header_up X-Real-IP {remote_host}
		transport http {
			read_timeout 2s
		}
	}
}
`

// haproxyConf: HAProxy terminates TLS with ALPN h2 and http/1.1 and
// speaks HTTP/1.1 with keep-alive to Rotor. Its server and client
// timeouts are inactivity timeouts, which heartbeats reset.
const haproxyConf = `global
    nbthread 1

defaults
    mode http
    timeout connect 5s
    timeout client 2s
    timeout server 2s
    timeout http-request 10s
    timeout http-keep-alive 10s

frontend rotor_front
    bind 127.0.0.1:{{port}} ssl crt {{dir}}/cert-and-key.pem alpn h2,http/1.1
    http-request set-header X-Real-IP %[src]
    default_backend rotor

backend rotor
    server rotor1 {{upstream}}
`

// haproxyH2CConf is haproxyConf speaking cleartext HTTP/2 (h2c) to Rotor
// (http.h2c: true): every client stream shares a few upstream
// connections.
var haproxyH2CConf = strings.Replace(haproxyConf, "server rotor1 {{upstream}}", "server rotor1 {{upstream}} proto h2", 1)

// proxyKind is one reverse proxy the tests run in front of Rotor.
type proxyKind struct {
	name string
	bin  string
	h2c  bool // Rotor serves h2c and the proxy speaks it
	// command writes the config into dir and returns the command line.
	command func(t *testing.T, dir string, vars map[string]string) []string
}

var proxies = []proxyKind{
	{
		name: "nginx",
		bin:  "/usr/sbin/nginx",
		command: func(t *testing.T, dir string, vars map[string]string) []string {
			listen := fmt.Sprintf("listen 127.0.0.1:%s ssl;\n        http2 on;", vars["{{port}}"])
			if !versionAtLeast(t, "/usr/sbin/nginx", "-v", 1, 25, 1) {
				// Before 1.25.1 HTTP/2 is a parameter of listen.
				listen = fmt.Sprintf("listen 127.0.0.1:%s ssl http2;", vars["{{port}}"])
			}
			vars["{{listen}}"] = listen
			path := writeConf(t, dir, "nginx.conf", nginxConf, vars)
			// -e: the error log before the config is read (nginx ≥ 1.19.5).
			return []string{"-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path}
		},
	},
	{
		name: "caddy",
		bin:  "/usr/bin/caddy",
		command: func(t *testing.T, dir string, vars map[string]string) []string {
			path := writeConf(t, dir, "Caddyfile", caddyConf, vars)
			return []string{"run", "--config", path, "--adapter", "caddyfile"}
		},
	},
	{name: "haproxy", bin: "/usr/sbin/haproxy", command: haproxyCommand(haproxyConf)},
	{name: "haproxy-h2c", bin: "/usr/sbin/haproxy", h2c: true, command: haproxyCommand(haproxyH2CConf)},
}

// haproxyCommand writes conf and the PEM bundle HAProxy wants (the
// certificate, then its key).
func haproxyCommand(conf string) func(t *testing.T, dir string, vars map[string]string) []string {
	return func(t *testing.T, dir string, vars map[string]string) []string {
		var pemData []byte
		for _, f := range []string{vars["{{cert}}"], vars["{{key}}"]} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			pemData = append(pemData, b...)
		}
		if err := os.WriteFile(filepath.Join(dir, "cert-and-key.pem"), pemData, 0o600); err != nil {
			t.Fatal(err)
		}
		path := writeConf(t, dir, "haproxy.cfg", conf, vars)
		return []string{"-db", "-f", path}
	}
}

func writeConf(t *testing.T, dir, name, tmpl string, vars map[string]string) string {
	t.Helper()
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, k, v)
	}
	if i := strings.Index(tmpl, "{{"); i >= 0 {
		t.Fatalf("%s: unfilled placeholder at %q", name, tmpl[i:min(len(tmpl), i+20)])
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(tmpl), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// start runs the proxy in front of upstream (host:port, plain HTTP/1.1)
// with TLS from cert and key, and returns its https:// base URL. It skips
// the test only when the proxy is not installed.
func (p proxyKind) start(t *testing.T, upstream, cert, key string) string {
	t.Helper()
	if _, err := os.Stat(p.bin); err != nil {
		t.Skipf("%s not found: install it with `apt-get install -y %s`", p.bin, filepath.Base(p.bin))
	}
	for attempt := 1; ; attempt++ {
		base, err := p.startOnce(t, upstream, cert, key)
		if err == nil {
			return base
		}
		// A port free a moment ago can be taken meanwhile: pick another.
		if !errors.Is(err, errAddrInUse) || attempt == 3 {
			t.Fatal(err)
		}
	}
}

func (p proxyKind) startOnce(t *testing.T, upstream, cert, key string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	vars := map[string]string{"{{dir}}": dir, "{{port}}": port, "{{upstream}}": upstream, "{{cert}}": cert, "{{key}}": key}
	args := p.command(t, dir, vars)
	logs := &syncBuffer{}
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	// Caddy keeps its state under $HOME and the XDG directories.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", p.name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	output := func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
		return logs.String() + string(b)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", p.name, output())
		}
	})
	deadline := time.Now().Add(startWait)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return "https://" + addr, nil
		}
		select {
		case <-exited:
			if out := output(); strings.Contains(strings.ToLower(out), "address already in use") {
				return "", fmt.Errorf("%s on %s: %w", p.name, addr, errAddrInUse)
			}
			return "", fmt.Errorf("%s exited at start:\n%s", p.name, output())
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s not listening on %s after %s:\n%s", p.name, addr, startWait, output())
		}
	}
}

// versionAtLeast runs `bin flag` and reports whether the first x.y.z in
// its output is at least major.minor.patch.
func versionAtLeast(t *testing.T, bin, flag string, major, minor, patch int) bool {
	t.Helper()
	out, err := exec.Command(bin, flag).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", bin, flag, err, out)
	}
	m := regexp.MustCompile(`(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("%s %s: no version in %q", bin, flag, out)
	}
	have := [3]int{}
	for i := range have {
		have[i], _ = strconv.Atoi(m[i+1])
	}
	want := [3]int{major, minor, patch}
	for i := range have {
		if have[i] != want[i] {
			return have[i] > want[i]
		}
	}
	return true
}

// TestProxies puts real nginx, Caddy and HAProxy in front of Rotor: TLS
// with HTTP/2 (and HTTP/1.1) to the client, HTTP/1.1 to Rotor. SSE (50
// streams on one HTTP/2 connection), long poll and the server API work
// through each, and Rotor's heartbeat keeps a quiet stream open past the
// proxy's 2s read timeout.
func TestProxies(t *testing.T) {
	t.Parallel()
	cert, key := writeCert(t, t.TempDir())
	for _, p := range proxies {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, serverConfig{Ping: 500 * time.Millisecond, H2C: p.h2c})
			base := p.start(t, srv.cfg.Addr, cert, key)
			t.Run("http2", func(t *testing.T) {
				t.Parallel()
				checkHTTP2(t, newH2Client(t, cert), base)
			})
			t.Run("http1", func(t *testing.T) {
				t.Parallel()
				checkProto(t, newH1Client(t, cert), base, 1)
			})
			t.Run("heartbeat outlives the read timeout", func(t *testing.T) {
				t.Parallel()
				checkHeartbeat(t, newH2Client(t, cert), base, 4*time.Second)
			})
			t.Run("without heartbeat the proxy cuts", func(t *testing.T) {
				t.Parallel()
				// The control: the same proxy in front of a node whose ping
				// is far longer than the read timeout ends a quiet stream,
				// so the heartbeat test above proves something.
				quietSrv := startServer(t, serverConfig{Ping: time.Minute, H2C: p.h2c})
				quietBase := p.start(t, quietSrv.cfg.Addr, cert, key)
				c := newH2Client(t, cert)
				s := openSSE(t, c.Client, streamURL(quietBase, "sse", "quiet", t, "quiet"), "")
				s.expect(t, "sub")
				ev, err := s.nextErr(15 * time.Second)
				if err == nil {
					t.Fatalf("got %+v on a quiet stream with no heartbeat", ev)
				}
				if !errors.Is(err, io.EOF) {
					t.Fatalf("the proxy did not end a quiet stream: %v", err)
				}
			})
		})
	}
}

// checkHeartbeat holds a stream on a quiet channel for hold, seeing only
// heartbeats, then publishes and expects the publication on it.
func checkHeartbeat(t *testing.T, c *countingClient, base string, hold time.Duration) {
	t.Helper()
	const channel = "quiet"
	s := openSSE(t, c.Client, streamURL(base, "sse", "quiet", t, channel), "")
	s.expect(t, "sub")
	end := time.After(hold)
	pings := 0
	for quiet := true; quiet; {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("the proxy closed the quiet stream after %d heartbeats", pings)
			}
			if ev.Event != ":" {
				t.Fatalf("unexpected event %+v on a quiet channel", ev)
			}
			pings++
		case <-end:
			quiet = false
		}
	}
	if pings < 2 {
		t.Errorf("%d heartbeats in %s with ping 500ms", pings, hold)
	}
	off := mustPublish(t, c.Client, base, channel, "still here")
	if pub := decode[pubData](t, s.expect(t, "pub")); pub.Offset != off {
		t.Fatalf("pub %+v, want offset %d", pub, off)
	}
}

// TestStreamLifetimeThroughNginx: with http.stream_lifetime each stream
// ends after about that long with disconnect 3000 (reconnect); a client
// that resumes with Last-Event-ID through nginx gets every publication
// once, in order, across several stream ends. The first bytes are the
// http.padding comment.
func TestStreamLifetimeThroughNginx(t *testing.T) {
	t.Parallel()
	const (
		channel = "lifetime"
		padding = 2048
		rounds  = 3
	)
	srv := startServer(t, serverConfig{Ping: 500 * time.Millisecond, StreamLifetime: time.Second, Padding: padding})
	cert, key := writeCert(t, t.TempDir())
	base := proxies[0].start(t, srv.cfg.Addr, cert, key)
	c := newH2Client(t, cert)
	var pub *publisher

	col := &collector{}
	streamURL := streamURL(base, "sse", "lifetime", t, channel)
	// readStream reads one stream until it ends, failing after timeout.
	readStream := func(s *sseStream, timeout time.Duration) {
		t.Helper()
		done := make(chan struct{})
		go func() { col.run(s); close(done) }()
		select {
		case <-done:
		case <-time.After(timeout):
			t.Fatalf("stream did not end within %s (stream_lifetime 1s)", timeout)
		}
	}
	for round := range rounds {
		col.mu.Lock()
		last := col.lastID
		col.mu.Unlock()
		s := openSSE(t, c.Client, streamURL, last)
		if round == 0 {
			first := <-s.events
			if first.Event != ":" || len(first.Data) < padding {
				t.Fatalf("first event %q with %d bytes, want a comment of %d bytes of padding", first.Event, len(first.Data), padding)
			}
			// Publish only once subscribed, so offset 1 is on the stream.
			sub := s.expect(t, "sub")
			col.mu.Lock()
			_ = col.record(sub)
			col.mu.Unlock()
			pub = startPublisher(t, c.Client, base, channel)
		}
		readStream(s, 15*time.Second)
		col.mu.Lock()
		disc, err := col.disc, col.err
		col.disc = nil
		col.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		if disc == nil || disc.Code != 3000 || !disc.Reconnect {
			t.Fatalf("round %d: stream ended with %+v, want disconnect 3000 with reconnect", round, disc)
		}
	}
	pub.halt()
	if pub.err != nil {
		t.Fatal(pub.err)
	}
	last := mustPublish(t, c.Client, base, channel, "last")
	col.mu.Lock()
	lastID := col.lastID
	col.mu.Unlock()
	s := openSSE(t, c.Client, streamURL, lastID)
	go col.run(s)
	eventually(t, 15*time.Second, "the last publication arrives", func() bool { return col.last() >= last })
	s.close()
	checkInOrder(t, 0, col, 1, last)
	col.mu.Lock()
	defer col.mu.Unlock()
	for i, sub := range col.subs {
		if !sub.Recovered {
			t.Errorf("stream %d: sub %+v, want recovered:true (resumed from history)", i, sub)
		}
	}
}
