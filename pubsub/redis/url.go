package redis

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// clientOptions is what a Redis URL describes: exactly one of the three
// is set. go-redis's own parsers fill them, so every query option they
// read (dial_timeout, pool_size, client_name, protocol, …) works.
type clientOptions struct {
	single   *goredis.Options
	cluster  *goredis.ClusterOptions
	failover *goredis.FailoverOptions
}

// parseURL reads Options.URL:
//
//   - redis://[user:pass@]host:port[/db][?opts], rediss://… (TLS) and
//     unix:///path/to/redis.sock[?db=N&opts] — one server, by
//     goredis.ParseURL;
//   - redis-cluster://[user:pass@]host:port,host:port[?opts] (or
//     rediss-cluster://), or several redis:// URLs separated by commas — a
//     Cluster, the hosts being seeds, by goredis.ParseClusterURL;
//   - redis-sentinel://[user:pass@]host:port,host:port/mastername[?opts]
//     (or rediss-sentinel://) — a master found through Sentinel, by
//     goredis.ParseFailoverURL. The user and password are the Sentinels'
//     and, unless the query sets username or password, the master's too.
//
// A bare user (redis://secret@host) is a password, as redis-cli reads it.
func parseURL(raw string) (*clientOptions, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("redis url is empty")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("redis url %q has no scheme", redact(raw))
	}
	var (
		co  clientOptions
		err error
	)
	switch scheme {
	case "redis", "rediss":
		if strings.Contains(rest, ",") {
			co.cluster, err = parseClusterList(scheme, raw)
			break
		}
		co.single, err = goredis.ParseURL(bareUserIsPassword(raw))
	case "unix":
		co.single, err = goredis.ParseURL(unixPassword(raw))
		if err == nil && co.single.Addr == "" {
			err = fmt.Errorf("no socket path")
		}
	case "redis-cluster", "rediss-cluster":
		var u string
		if u, err = multiHost(strings.TrimSuffix(scheme, "-cluster"), rest, ""); err == nil {
			co.cluster, err = goredis.ParseClusterURL(u)
		}
	case "redis-sentinel", "rediss-sentinel":
		co.failover, err = parseSentinel(strings.TrimSuffix(scheme, "-sentinel"), rest)
	default:
		return nil, fmt.Errorf("redis url %q: unknown scheme %q (redis, rediss, unix, redis-cluster, rediss-cluster, redis-sentinel, rediss-sentinel)", redact(raw), scheme)
	}
	if err != nil {
		// url.Error repeats the whole URL, password included: keep only
		// its reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("redis url %q: %w", redact(raw), err)
	}
	return &co, nil
}

// parseClusterList reads "redis://a:1,redis://b:2": the first URL gives
// the credentials, TLS and options, every URL a seed.
func parseClusterList(scheme, raw string) (*goredis.ClusterOptions, error) {
	parts := strings.Split(raw, ",")
	hosts := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if i > 0 {
			s, host, ok := strings.Cut(p, "://")
			if !ok || s != scheme || strings.ContainsAny(host, "/?@") {
				return nil, fmt.Errorf("several hosts need redis-cluster://host,host or a list of %s://host:port URLs, not %q", scheme, p)
			}
			hosts = append(hosts, host)
		}
	}
	first, err := url.Parse(bareUserIsPassword(strings.TrimSpace(parts[0])))
	if err != nil {
		return nil, err
	}
	q := first.Query()
	for _, h := range hosts {
		q.Add("addr", withPort(h))
	}
	first.RawQuery = q.Encode()
	first.Path = ""
	return goredis.ParseClusterURL(first.String())
}

// parseSentinel reads host:port,host:port/mastername[?opts] after the
// scheme; base is "redis" or "rediss".
func parseSentinel(base, rest string) (*goredis.FailoverOptions, error) {
	authority, pathQuery, _ := strings.Cut(rest, "/")
	master, query, _ := strings.Cut(pathQuery, "?")
	if master == "" {
		return nil, fmt.Errorf("a sentinel url needs a master name: redis-sentinel://host:port,host:port/mastername")
	}
	if query != "" {
		authority += "?" + query
	}
	u, err := multiHost(base, authority, master)
	if err != nil {
		return nil, err
	}
	o, err := goredis.ParseFailoverURL(u)
	if err != nil {
		return nil, err
	}
	if o.Username == "" && o.Password == "" {
		o.Username, o.Password = o.SentinelUsername, o.SentinelPassword
	}
	return o, nil
}

// multiHost turns "[user@]h1,h2[/path][?q]" into the one-host URL with
// addr= parameters that go-redis's cluster and failover parsers read,
// adding master_name when master is not empty.
func multiHost(base, rest, master string) (string, error) {
	end := strings.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo, hostList := "", authority
	if i := strings.LastIndex(authority, "@"); i >= 0 {
		userinfo, hostList = authority[:i+1], authority[i+1:]
	}
	var hosts []string
	for _, h := range strings.Split(hostList, ",") {
		if h = strings.TrimSpace(h); h != "" {
			hosts = append(hosts, withPort(h))
		}
	}
	if len(hosts) == 0 {
		return "", fmt.Errorf("no host")
	}
	u, err := url.Parse(bareUserIsPassword(base + "://" + userinfo + hosts[0] + tail))
	if err != nil {
		return "", err
	}
	q := u.Query()
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	if master != "" {
		q.Set("master_name", master)
	}
	u.RawQuery = q.Encode()
	u.Path = ""
	return u.String(), nil
}

// bareUserIsPassword rewrites redis://secret@host as redis://:secret@host:
// redis-cli and older Rotor read a lone user as the password.
func bareUserIsPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has || u.User.Username() == "" {
		return raw
	}
	u.User = url.UserPassword("", u.User.Username())
	return u.String()
}

// unixPassword moves a password= query option of a unix:// URL, which
// older Rotor read and go-redis does not, into the URL's user info.
func unixPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || !u.Query().Has("password") {
		return raw
	}
	q := u.Query()
	user := ""
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, q.Get("password"))
	q.Del("password")
	u.RawQuery = q.Encode()
	return u.String()
}

func withPort(h string) string {
	if _, _, err := net.SplitHostPort(h); err != nil {
		return net.JoinHostPort(h, "6379")
	}
	return h
}

// redact hides the password of a URL for error messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			return "…" + raw[i:]
		}
		return raw
	}
	return u.Redacted()
}

// defaults are the engine's settings for what the URL leaves unset.
type defaults struct {
	clientName string
	protocol   int
	timeout    time.Duration
	poolSize   int
}

// Short timeouts and few retries: a call must fail within a few timeouts
// when Redis is gone, not after go-redis's 5s defaults with 3 retries.
const (
	defaultMaxRetries      = 1 // one retry replaces a pooled connection broken by a Redis restart
	defaultDialerRetries   = 1
	defaultMinRetryBackoff = 8 * time.Millisecond
	defaultMaxRetryBackoff = 100 * time.Millisecond
	// defaultMaxRedirects is a Cluster's budget of MOVED, ASK and TRYAGAIN
	// follow-ups per command (go-redis's default is 3). While a slot
	// migrates, a channel's two keys may sit on different masters for a
	// moment (TRYAGAIN); with the 8–100 ms backoff, 8 tries wait about
	// half a second for them, well inside the call's bound.
	defaultMaxRedirects = 8
)

// knobs points at the fields the engine sets in each of go-redis's three
// option types, so that one function fills them all.
type knobs struct {
	clientName                                      *string
	protocol, dialerRetries, maxRetries, poolSize   *int
	dial, read, write, pool, minBackoff, maxBackoff *time.Duration
	contextTimeout, disableIdentity                 *bool
}

// apply fills in d where the URL set nothing and returns the longest of
// the dial, read and write timeouts in effect, which bounds each engine
// call.
func (k knobs) apply(d defaults) time.Duration {
	if *k.clientName == "" {
		*k.clientName = d.clientName
	}
	for _, f := range []struct {
		v   *int
		def int
	}{{k.protocol, d.protocol}, {k.dialerRetries, defaultDialerRetries}, {k.maxRetries, defaultMaxRetries}, {k.poolSize, d.poolSize}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{{k.dial, d.timeout}, {k.read, d.timeout}, {k.write, d.timeout}, {k.pool, d.timeout}, {k.minBackoff, defaultMinRetryBackoff}, {k.maxBackoff, defaultMaxRetryBackoff}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	// Calls are bounded by their context (ErrEngineDown when Redis is
	// away), and CLIENT SETINFO would fail on older servers.
	*k.contextTimeout, *k.disableIdentity = true, true
	return max(d.timeout, *k.dial, *k.read, *k.write)
}

// newClient builds the go-redis client with d filled in where the URL set
// nothing. It says whether the client is a Cluster client and returns the
// timeout that bounds each engine call.
func (co *clientOptions) newClient(d defaults) (goredis.UniversalClient, bool, time.Duration) {
	switch {
	case co.cluster != nil:
		o := co.cluster
		t := knobs{&o.ClientName, &o.Protocol, &o.DialerRetries, &o.MaxRetries, &o.PoolSize,
			&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MinRetryBackoff, &o.MaxRetryBackoff,
			&o.ContextTimeoutEnabled, &o.DisableIdentity}.apply(d)
		if o.MaxRedirects == 0 {
			o.MaxRedirects = defaultMaxRedirects
		}
		return goredis.NewClusterClient(o), true, t
	case co.failover != nil:
		o := co.failover
		t := knobs{&o.ClientName, &o.Protocol, &o.DialerRetries, &o.MaxRetries, &o.PoolSize,
			&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MinRetryBackoff, &o.MaxRetryBackoff,
			&o.ContextTimeoutEnabled, &o.DisableIdentity}.apply(d)
		return goredis.NewFailoverClient(o), false, t
	default:
		o := co.single
		t := knobs{&o.ClientName, &o.Protocol, &o.DialerRetries, &o.MaxRetries, &o.PoolSize,
			&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.MinRetryBackoff, &o.MaxRetryBackoff,
			&o.ContextTimeoutEnabled, &o.DisableIdentity}.apply(d)
		return goredis.NewClient(o), false, t
	}
}

// CheckURL reports whether raw is a Redis URL the engine accepts, with
// the same parsing as New, so that a config check catches what serve
// would refuse.
func CheckURL(raw string) error {
	_, err := parseURL(raw)
	return err
}
