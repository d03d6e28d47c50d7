package e2e

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// varnishDefaultVCL is Varnish with nothing but a backend: its built-in
// VCL decides the rest, as on a CDN whose owner did not configure the
// streaming paths.
const varnishDefaultVCL = `vcl 4.1;

backend rotor {
    .host = "{{host}}";
    .port = "{{upstreamport}}";
}
`

// varnishVCL is the recipe of docs/proxies.md: streams are piped to Rotor
// byte for byte, the rest under /connection/ and /api/ is passed (never
// cached).
const varnishVCL = `vcl 4.1;

backend rotor {
    .host = "{{host}}";
    .port = "{{upstreamport}}";
}

sub vcl_recv {
    if (req.url ~ "^/connection/[^/]+/sse") {
        return (pipe);
    }
    if (req.url ~ "^/(connection|api)/") {
        return (pass);
    }
}

sub vcl_pipe {
    set bereq.http.Connection = "close";
}
`

// startVarnish runs varnishd in the foreground in front of upstream
// (host:port) with vcl and returns its http:// base URL; it skips the test
// when Varnish is not installed.
func startVarnish(t *testing.T, upstream, vcl string) string {
	t.Helper()
	const bin = "/usr/sbin/varnishd"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s not found: install it with `apt-get install -y varnish`", bin)
	}
	host, port, _ := net.SplitHostPort(upstream)
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		path := writeConf(t, dir, "rotor.vcl", vcl, map[string]string{"{{host}}": host, "{{upstreamport}}": port})
		addr := freeAddr(t)
		logs := &syncBuffer{}
		// -F: foreground; -n: its working directory (shared memory log);
		// -j none: no jail, the test is not root everywhere.
		cmd := exec.Command(bin, "-F", "-a", addr, "-f", path, "-n", filepath.Join(dir, "work"),
			"-s", "malloc,32m", "-j", "none", "-p", "thread_pool_min=10", "-p", "thread_pools=1")
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start varnishd: %v", err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
			if t.Failed() {
				t.Logf("varnishd output:\n%s", logs.String())
			}
		})
		err := waitListening(addr, exited, logs)
		if err == nil {
			return "http://" + addr
		}
		if !errors.Is(err, errAddrInUse) || attempt == 3 {
			t.Fatal(err)
		}
	}
}

// waitListening waits until addr accepts connections or the process ends.
func waitListening(addr string, exited <-chan struct{}, logs *syncBuffer) error {
	deadline := time.Now().Add(startWait)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-exited:
			if strings.Contains(strings.ToLower(logs.String()), "address already in use") {
				return fmt.Errorf("varnishd on %s: %w", addr, errAddrInUse)
			}
			return fmt.Errorf("varnishd exited at start:\n%s", logs.String())
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("varnishd not listening on %s after %s:\n%s", addr, startWait, logs.String())
		}
	}
}

// TestVarnish: behind Varnish — with its default VCL, which holds a
// response's first body write until the next one, and with the recipe of
// docs/proxies.md — a plain SSE reader gets its `sub` on a quiet channel
// within a second, then heartbeats, then a publication.
func TestVarnish(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		vcl  string
	}{
		{"default", varnishDefaultVCL},
		{"recipe", varnishVCL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, serverConfig{Ping: 3 * time.Second})
			base := startVarnish(t, srv.cfg.Addr, tc.vcl)
			c := &http.Client{Transport: &http.Transport{}}
			t.Cleanup(c.CloseIdleConnections)
			start := time.Now()
			s := openSSE(t, c, streamURL(base, "sse", "varnish", t, "quiet"), "")
			s.expect(t, "sub")
			if el := time.Since(start); el > time.Second {
				t.Fatalf("sub after %v through Varnish, want within 1s", el)
			}
			t.Logf("sub after %v", time.Since(start).Round(time.Millisecond))
			// Heartbeats pass too, and a publication after them.
			deadline := time.After(5 * time.Second)
			pings := 0
			for wait := true; wait; {
				select {
				case ev, ok := <-s.events:
					if !ok {
						t.Fatalf("Varnish closed the stream after %d heartbeats", pings)
					}
					if ev.Event != ":" {
						t.Fatalf("unexpected event %+v", ev)
					}
					pings++
				case <-deadline:
					wait = false
				}
			}
			if pings < 1 {
				t.Errorf("%d heartbeats in 5s with ping 3s", pings)
			}
			off := mustPublish(t, srv.client, srv.base, "quiet", "hello")
			if pub := decode[pubData](t, s.expect(t, "pub")); pub.Offset != off {
				t.Fatalf("pub %+v, want offset %d", pub, off)
			}
		})
	}
}
