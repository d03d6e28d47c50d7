package redis

import (
	"slices"
	"testing"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url                string
		addrs              []string
		db                 int
		user, pass, master string
		cluster, tls       bool
		bad                bool
	}{
		{url: "redis://127.0.0.1:6379", addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://localhost/2", addrs: []string{"localhost:6379"}, db: 2},
		{url: "redis://:secret@h:1/0", addrs: []string{"h:1"}, pass: "secret"},
		{url: "redis://ann:secret@h:1?db=3", addrs: []string{"h:1"}, user: "ann", pass: "secret", db: 3},
		{url: "rediss://h:6380", addrs: []string{"h:6380"}, tls: true},
		{url: "redis-sentinel://s1:26379,s2:26379/mymaster?db=1", addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster", db: 1},
		{url: "redis://a:1,redis://b:2,redis://c:3", addrs: []string{"a:1", "b:2", "c:3"}, cluster: true},
		{url: "redis-cluster://a:1,b:2", addrs: []string{"a:1", "b:2"}, cluster: true},
		{url: "unix:///run/redis.sock?db=4", addrs: []string{"/run/redis.sock"}, db: 4},
		{url: "unix://", bad: true},
		{url: "", bad: true},
		{url: "h:6379", bad: true},
		{url: "http://h:1", bad: true},
		{url: "redis://a:1,b:2", bad: true},
		{url: "redis-sentinel://s1:26379", bad: true},
		{url: "redis://h:1/x", bad: true},
	}
	for _, tt := range tests {
		o, err := parseURL(tt.url)
		if tt.bad {
			if err == nil {
				t.Errorf("parseURL(%q) accepted", tt.url)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseURL(%q): %v", tt.url, err)
			continue
		}
		if !slices.Equal(o.Addrs, tt.addrs) || o.DB != tt.db || o.Username != tt.user || o.Password != tt.pass ||
			o.MasterName != tt.master || o.IsClusterMode != tt.cluster || (o.TLSConfig != nil) != tt.tls {
			t.Errorf("parseURL(%q) = addrs %v db %d user %q pass %q master %q cluster %v tls %v", tt.url,
				o.Addrs, o.DB, o.Username, o.Password, o.MasterName, o.IsClusterMode, o.TLSConfig != nil)
		}
	}
}
