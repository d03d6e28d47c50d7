package web

import (
	"context"
	"net/netip"
	"sync"
	"time"
)

// Login attempts: loginBurst failures in a row are allowed, then one more
// every loginEvery per client address.
const (
	loginBurst = 5
	loginEvery = 12 * time.Second
	// maxTracked bounds the limiter map; past it, full buckets (addresses
	// with no recent failure) are dropped.
	maxTracked = 10000
	// maxChecks bounds the bcrypt comparisons running at once, whatever
	// the addresses: each takes tens of milliseconds of a core, so many
	// addresses guessing together must not take the machine.
	maxChecks = 2
	// checkWait is how long a login waits for a free comparison before it
	// is answered 429.
	checkWait = 2 * time.Second
)

// loginLimiter counts failed logins per client address, as token buckets
// of loginBurst that refill one token every loginEvery. A token is taken
// before the password is checked and given back when it was right, so any
// number of concurrent guesses from one address gets at most the tokens it
// has to the password check. It is a small bucket of its own rather than
// golang.org/x/time/rate because a limiter there cannot give a token back
// once time has moved on.
type loginLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// refill brings b up to now.
func (b *bucket) refill(now time.Time) {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(loginBurst, b.tokens+float64(d)/float64(loginEvery))
		b.at = now
	}
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, m: map[string]*bucket{}}
}

// reserve takes a failure slot for ip before its password is checked. It
// returns false when ip has none left: the caller must refuse without
// checking. Otherwise the caller calls refund when the password turned
// out right (or was never checked).
func (l *loginLimiter) reserve(ip string) (refund func(), ok bool) {
	key := limitKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, found := l.m[key]
	if !found {
		if len(l.m) >= maxTracked {
			l.evict(now)
		}
		b = &bucket{tokens: loginBurst, at: now}
		l.m[key] = b
	}
	b.refill(now)
	if b.tokens < 1 {
		return nil, false
	}
	b.tokens--
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			b.refill(l.now())
			b.tokens = min(loginBurst, b.tokens+1)
		})
	}, true
}

// evict makes room in a full map: it drops the buckets that have refilled
// (addresses with no recent failure), or, when every one is still
// draining, the fullest one, so the map stays bounded. Only an attack
// from more than maxTracked addresses at once reaches the second case,
// and then the comparisons are still capped by checkSlots.
func (l *loginLimiter) evict(now time.Time) {
	var fullest string
	most := -1.0
	for k, v := range l.m {
		v.refill(now)
		if v.tokens >= loginBurst {
			delete(l.m, k)
		} else if v.tokens > most {
			fullest, most = k, v.tokens
		}
	}
	if len(l.m) >= maxTracked {
		delete(l.m, fullest)
	}
}

// limitKey is what an address is counted under: an IPv4 address itself,
// an IPv6 address by its /64, the block a single host or site is usually
// given, so one attacker cannot step through the addresses of its own
// network for fresh attempts. Anything that does not parse is its own key.
func limitKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
}

// checkSlots bounds concurrent password checks.
type checkSlots chan struct{}

// acquire waits up to checkWait for a free slot; false means none came
// (or ctx ended) and the password must not be checked.
func (s checkSlots) acquire(ctx context.Context) (release func(), ok bool) {
	t := time.NewTimer(checkWait)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return func() { <-s }, true
	case <-t.C:
		return nil, false
	case <-ctx.Done():
		return nil, false
	}
}
