package redis

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// parseURL turns Options.URL into go-redis universal options:
//
//   - redis://[user:pass@]host:port[/db] and rediss://… — one server (TLS
//     for rediss);
//   - redis-sentinel://[user:pass@]host:port,host:port/mastername[?db=0]
//     (or rediss-sentinel://) — a master found through Sentinel;
//   - unix:///path/to/redis.sock[?db=N] — a local socket;
//   - several redis:// URLs separated by commas, or
//     redis-cluster://host:port,host:port — a Cluster, the hosts being
//     seeds.
func parseURL(raw string) (*goredis.UniversalOptions, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("redis url is empty")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("redis url %q has no scheme", raw)
	}
	switch scheme {
	case "redis", "rediss":
		if strings.Contains(rest, ",") {
			return parseClusterList(raw)
		}
		return parseSingle(raw, false)
	case "redis-cluster", "rediss-cluster":
		o, err := parseSingle(strings.TrimSuffix(scheme, "-cluster")+"://"+rest, true)
		if err != nil {
			return nil, err
		}
		o.IsClusterMode = true
		return o, nil
	case "redis-sentinel", "rediss-sentinel":
		return parseSentinel(strings.TrimSuffix(scheme, "-sentinel"), rest)
	case "unix":
		return parseUnix(raw)
	default:
		return nil, fmt.Errorf("redis url %q: unknown scheme %q", raw, scheme)
	}
}

// parseSingle parses one redis:// or rediss:// URL; multiHost allows a
// comma-separated host list (cluster seeds).
func parseSingle(raw string, multiHost bool) (*goredis.UniversalOptions, error) {
	// url.Parse refuses "a:1,b:2" as a host: take the host list out first.
	scheme, rest, _ := strings.Cut(raw, "://")
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority := rest[:end]
	userinfo, hostList := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostList = authority[:i+1], authority[i+1:]
	}
	u, err := url.Parse(scheme + "://" + userinfo + "placeholder" + rest[end:])
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	o := &goredis.UniversalOptions{}
	for _, h := range strings.Split(hostList, ",") {
		if h == "" {
			continue
		}
		if !strings.Contains(h, ":") {
			h += ":6379"
		}
		o.Addrs = append(o.Addrs, h)
	}
	if len(o.Addrs) == 0 {
		return nil, fmt.Errorf("redis url %q has no host", raw)
	}
	if len(o.Addrs) > 1 && !multiHost {
		return nil, fmt.Errorf("redis url %q: several hosts need redis-cluster:// or redis-sentinel://", raw)
	}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
		if o.Password == "" && o.Username != "" && !strings.Contains(u.User.String(), ":") {
			// redis://secret@host: a bare password, as redis-cli reads it.
			o.Password, o.Username = o.Username, ""
		}
	}
	if u.Scheme == "rediss" {
		o.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: hostOnly(o.Addrs[0])}
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil {
			return nil, fmt.Errorf("redis url %q: database %q is not a number", raw, db)
		}
		o.DB = n
	}
	if db := u.Query().Get("db"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil {
			return nil, fmt.Errorf("redis url %q: db %q is not a number", raw, db)
		}
		o.DB = n
	}
	return o, nil
}

// parseClusterList parses "redis://a:1,redis://b:2": the first URL gives
// the credentials and TLS, every URL a seed.
func parseClusterList(raw string) (*goredis.UniversalOptions, error) {
	var o *goredis.UniversalOptions
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := parseSingle(part, false)
		if err != nil {
			return nil, err
		}
		if o == nil {
			o = p
			continue
		}
		o.Addrs = append(o.Addrs, p.Addrs...)
	}
	if o == nil {
		return nil, fmt.Errorf("redis url %q has no host", raw)
	}
	o.DB = 0
	o.IsClusterMode = true
	return o, nil
}

// parseSentinel parses host:port,host:port/mastername?db=N after the
// scheme; base is "redis" or "rediss".
func parseSentinel(base, rest string) (*goredis.UniversalOptions, error) {
	hosts, pathQuery, _ := strings.Cut(rest, "/")
	master, query, _ := strings.Cut(pathQuery, "?")
	if master == "" {
		return nil, fmt.Errorf("redis sentinel url needs a master name: redis-sentinel://host:port,host:port/mastername")
	}
	raw := base + "://" + hosts + "/"
	if query != "" {
		raw += "?" + query
	}
	o, err := parseSingle(raw, true)
	if err != nil {
		return nil, err
	}
	o.MasterName = master
	o.SentinelUsername, o.SentinelPassword = o.Username, o.Password
	return o, nil
}

// parseUnix parses unix:///path[?db=N&password=…].
func parseUnix(raw string) (*goredis.UniversalOptions, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	if u.Path == "" {
		return nil, fmt.Errorf("redis url %q has no socket path", raw)
	}
	o := &goredis.UniversalOptions{Addrs: []string{u.Path}}
	if u.User != nil {
		o.Username = u.User.Username()
		o.Password, _ = u.User.Password()
	}
	if p := u.Query().Get("password"); p != "" {
		o.Password = p
	}
	if db := u.Query().Get("db"); db != "" {
		if o.DB, err = strconv.Atoi(db); err != nil {
			return nil, fmt.Errorf("redis url %q: db %q is not a number", raw, db)
		}
	}
	o.Dialer = func(ctx context.Context, _, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", addr)
	}
	return o, nil
}

func hostOnly(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}
