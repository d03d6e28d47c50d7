package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// nginxBin is where Debian's nginx package puts the binary.
const nginxBin = "/usr/sbin/nginx"

// nginxConf is the configuration docs/proxies.md shows: TLS and HTTP/2 to
// clients, HTTP/1.1 with keep-alive to Rotor, no buffering. The read
// timeout is short here (2s) to prove Rotor's heartbeat keeps a quiet
// stream open; production uses 75s with the default 20s ping.
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
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_cache off;
            proxy_read_timeout 2s;
        }
    }
}
`

// startNginx runs nginx in front of upstream (host:port, plain HTTP/1.1)
// and returns its https:// base URL. It skips the test only when nginx is
// not installed.
func startNginx(t *testing.T, upstream, cert, key string) string {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		t.Skipf("%s not found: install it with `apt-get install -y nginx` (make test does)", nginxBin)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	listen := fmt.Sprintf("listen 127.0.0.1:%s ssl;\n        http2 on;", port)
	if !nginxAtLeast(t, 1, 25, 1) {
		// Before 1.25.1 HTTP/2 is a parameter of listen.
		listen = fmt.Sprintf("listen 127.0.0.1:%s ssl http2;", port)
	}
	conf := nginxConf
	for k, v := range map[string]string{"{{dir}}": dir, "{{upstream}}": upstream, "{{listen}}": listen, "{{cert}}": cert, "{{key}}": key} {
		conf = regexp.MustCompile(regexp.QuoteMeta(k)).ReplaceAllLiteralString(conf, v)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	// -e: the error log before the config is read (nginx ≥ 1.19.5).
	cmd := exec.Command(nginxBin, "-e", filepath.Join(dir, "error.log"), "-p", dir, "-c", path)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	deadline := time.Now().Add(startWait)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return "https://" + addr
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %s\n%s", logs, b)
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not listening on %s after %s", addr, startWait)
		}
	}
}

// nginxAtLeast reports whether `nginx -v` is at least major.minor.patch.
func nginxAtLeast(t *testing.T, major, minor, patch int) bool {
	t.Helper()
	out, err := exec.Command(nginxBin, "-v").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -v: %v: %s", err, out)
	}
	m := regexp.MustCompile(`nginx/(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("nginx -v: no version in %q", out)
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

// TestNginx puts a real nginx in front of Rotor: HTTP/2 with TLS to the
// client, HTTP/1.1 to Rotor. SSE (50 streams on one connection), long poll
// and the server API work through it, and Rotor's heartbeat keeps a quiet
// stream open past nginx's proxy_read_timeout.
func TestNginx(t *testing.T) {
	t.Parallel()
	srv := startServer(t, serverConfig{Ping: 500 * time.Millisecond})
	cert, key := writeCert(t, t.TempDir())
	base := startNginx(t, srv.cfg.Addr, cert, key)
	c := newH2Client(t, cert)

	t.Run("sse poll and api over http2", func(t *testing.T) {
		checkHTTP2(t, c, base)
	})

	t.Run("heartbeat outlives proxy_read_timeout", func(t *testing.T) {
		const channel = "quiet"
		s := openSSE(t, c.Client, streamURL(base, "sse", "quiet", t, channel), "")
		if s.resp.ProtoMajor != 2 {
			t.Fatalf("stream over %s, want HTTP/2", s.resp.Proto)
		}
		s.expect(t, "sub")
		// Twice nginx's 2s read timeout with nothing but heartbeats.
		hold := time.After(4 * time.Second)
		pings := 0
	quiet:
		for {
			select {
			case ev, ok := <-s.events:
				if !ok {
					t.Fatalf("nginx closed the quiet stream after %d heartbeats", pings)
				}
				if ev.Event != ":" {
					t.Fatalf("unexpected event %+v on a quiet channel", ev)
				}
				pings++
			case <-hold:
				break quiet
			}
		}
		if pings < 2 {
			t.Errorf("%d heartbeats in 4s with ping 500ms", pings)
		}
		off := mustPublish(t, c.Client, base, channel, "still here")
		if pub := decode[pubData](t, s.expect(t, "pub")); pub.Offset != off {
			t.Fatalf("pub %+v, want offset %d", pub, off)
		}
	})
}
