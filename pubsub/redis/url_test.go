package redis

import (
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url                string
		addrs              []string // sentinels for redis-sentinel
		db                 int
		user, pass, master string
		sentinelPass       string
		cluster, tls       bool
		bad                string // part of the error
	}{
		{url: "redis://127.0.0.1:6379", addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://localhost/2", addrs: []string{"localhost:6379"}, db: 2},
		{url: "redis://:secret@h:1/0", addrs: []string{"h:1"}, pass: "secret"},
		{url: "redis://secret@h:1", addrs: []string{"h:1"}, pass: "secret"},
		{url: "redis://ann:secret@h:1?db=3", addrs: []string{"h:1"}, user: "ann", pass: "secret", db: 3},
		{url: "rediss://h:6380", addrs: []string{"h:6380"}, tls: true},
		{url: "redis-sentinel://s1:26379,s2:26379/mymaster?db=1", addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster", db: 1},
		{url: "redis-sentinel://:spw@s1:26379/mymaster", addrs: []string{"s1:26379"}, master: "mymaster", pass: "spw", sentinelPass: "spw"},
		{url: "redis-sentinel://:spw@s1:26379/mymaster?password=mpw", addrs: []string{"s1:26379"}, master: "mymaster", pass: "mpw", sentinelPass: "spw"},
		{url: "rediss-sentinel://s1:26379/m", addrs: []string{"s1:26379"}, master: "m", tls: true},
		{url: "redis://a:1,redis://b:2,redis://c:3", addrs: []string{"a:1", "b:2", "c:3"}, cluster: true},
		{url: "redis://:pw@a:1,redis://b:2?pool_size=3", bad: "several hosts"},
		{url: "redis-cluster://a:1,b:2", addrs: []string{"a:1", "b:2"}, cluster: true},
		{url: "redis-cluster://u:p@a,b:2?read_only=true", addrs: []string{"a:6379", "b:2"}, user: "u", pass: "p", cluster: true},
		{url: "rediss-cluster://a:1", addrs: []string{"a:1"}, cluster: true, tls: true},
		{url: "unix:///run/redis.sock?db=4", addrs: []string{"/run/redis.sock"}, db: 4},
		{url: "unix:///run/redis.sock?db=4&password=pw", addrs: []string{"/run/redis.sock"}, db: 4, pass: "pw"},
		{url: "unix://", bad: "socket"},
		{url: "", bad: "empty"},
		{url: "h:6379", bad: "no scheme"},
		{url: "http://h:1", bad: "unknown scheme"},
		{url: "redis://a:1,b:2", bad: "several hosts"},
		{url: "redis-sentinel://s1:26379", bad: "master name"},
		{url: "redis://h:1/x", bad: "database"},
		{url: "redis://h:1?no_such_option=1", bad: "unexpected option"},
		{url: "redis://h:1?dial_timeout=soon", bad: "dial_timeout"},
		{url: "redis://:topsecret@h:1?no_such_option=1", bad: "xxxxx"},
		{url: "redis://:topsecret@h:notaport", bad: "invalid port"},
		{url: "redis-sentinel://:topsecret@s:bad/m", bad: "invalid port"},
		{url: "redis-cluster://:topsecret@a:1,b:2?bogus=1", bad: "unexpected option"},
	}
	for _, tt := range tests {
		co, err := parseURL(tt.url)
		if tt.bad != "" {
			if err == nil || !strings.Contains(err.Error(), tt.bad) {
				t.Errorf("parseURL(%q) = %v, want an error with %q", tt.url, err, tt.bad)
			}
			if err != nil && strings.Contains(err.Error(), "topsecret") {
				t.Errorf("parseURL(%q) error shows the password: %v", tt.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		var (
			addrs                      []string
			db                         int
			user, pass, master, sentPw string
			tls                        bool
		)
		switch {
		case co.single != nil:
			o := co.single
			addrs, db, user, pass, tls = []string{o.Addr}, o.DB, o.Username, o.Password, o.TLSConfig != nil
		case co.cluster != nil:
			o := co.cluster
			addrs, user, pass, tls = o.Addrs, o.Username, o.Password, o.TLSConfig != nil
		case co.failover != nil:
			o := co.failover
			addrs, db, user, pass, tls = o.SentinelAddrs, o.DB, o.Username, o.Password, o.TLSConfig != nil
			master, sentPw = o.MasterName, o.SentinelPassword
		}
		if !slices.Equal(addrs, tt.addrs) || db != tt.db || user != tt.user || pass != tt.pass || master != tt.master ||
			sentPw != tt.sentinelPass || (co.cluster != nil) != tt.cluster || tls != tt.tls {
			t.Errorf("parseURL(%q) = addrs %v db %d user %q pass %q master %q sentinel pass %q cluster %v tls %v", tt.url,
				addrs, db, user, pass, master, sentPw, co.cluster != nil, tls)
		}
	}
}

// clientOpts is the subset of go-redis options the engine sets or the
// URL may override, read back from a built client.
type clientOpts struct {
	clientName                 string
	protocol, poolSize         int
	dial, read, write, timeout time.Duration
}

// TestURLOptionsReachClient builds engines (no Redis needed: clients
// connect lazily) and reads the options back from the go-redis client:
// what the URL sets wins, the engine's defaults fill the rest.
func TestURLOptionsReachClient(t *testing.T) {
	t.Parallel()
	const q = "?dial_timeout=3s&read_timeout=4s&write_timeout=2s&pool_size=7&client_name=edge-1&protocol=3"
	want := clientOpts{clientName: "edge-1", protocol: 3, poolSize: 7, dial: 3 * time.Second, read: 4 * time.Second, write: 2 * time.Second, timeout: 4 * time.Second}
	tests := []struct {
		name, url string
		want      clientOpts
	}{
		{"single defaults", "redis://127.0.0.1:1", clientOpts{clientName: "rotor-n1", protocol: 2, poolSize: 5, dial: time.Second, read: time.Second, write: time.Second, timeout: time.Second}},
		{"single", "redis://127.0.0.1:1/0" + q, want},
		{"tls", "rediss://127.0.0.1:1" + q, want},
		{"unix", "unix:///tmp/no.sock" + q, want},
		{"cluster", "redis-cluster://127.0.0.1:1,127.0.0.1:2" + q, want},
		{"cluster list", "redis://127.0.0.1:1" + q + ",redis://127.0.0.1:2", want},
		{"sentinel", "redis-sentinel://127.0.0.1:1,127.0.0.1:2/mymaster" + q, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, err := New(Options{URL: tt.url, NodeID: "n1", PoolSize: 5})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.Close() })
			var got clientOpts
			switch c := e.rdb.(type) {
			case *goredis.Client:
				o := c.Options()
				got = clientOpts{o.ClientName, o.Protocol, o.PoolSize, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, e.opts.Timeout}
			case *goredis.ClusterClient:
				o := c.Options()
				got = clientOpts{o.ClientName, o.Protocol, o.PoolSize, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, e.opts.Timeout}
				if !e.cluster {
					t.Error("cluster client, but the engine is not in cluster mode")
				}
			default:
				t.Fatalf("client is %T", c)
			}
			if got != tt.want {
				t.Errorf("options = %+v, want %+v", got, tt.want)
			}
		})
	}
}
