package web

import (
	"context"
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
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, found := l.m[ip]
	if !found {
		if len(l.m) >= maxTracked {
			for k, v := range l.m {
				if v.refill(now); v.tokens >= loginBurst {
					delete(l.m, k)
				}
			}
		}
		b = &bucket{tokens: loginBurst, at: now}
		l.m[ip] = b
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
