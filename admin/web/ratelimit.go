package web

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login attempts: loginBurst failures in a row are allowed, then one more
// every loginEvery per client address.
const (
	loginBurst = 5
	loginEvery = 12 * time.Second
	// maxTracked bounds the limiter map; past it, idle entries are dropped.
	maxTracked = 10000
)

// loginLimiter counts failed logins per client address.
type loginLimiter struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*rate.Limiter
}

func newLoginLimiter(now func() time.Time) *loginLimiter {
	return &loginLimiter{now: now, m: map[string]*rate.Limiter{}}
}

func (l *loginLimiter) get(ip string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.m[ip]
	if !ok {
		if len(l.m) >= maxTracked {
			now := l.now()
			for k, v := range l.m {
				if v.TokensAt(now) >= loginBurst {
					delete(l.m, k)
				}
			}
		}
		lim = rate.NewLimiter(rate.Every(loginEvery), loginBurst)
		l.m[ip] = lim
	}
	return lim
}

// blocked reports whether ip has used up its failed attempts.
func (l *loginLimiter) blocked(ip string) bool {
	return l.get(ip).TokensAt(l.now()) < 1
}

// failed records a failed attempt from ip.
func (l *loginLimiter) failed(ip string) {
	l.get(ip).AllowN(l.now(), 1)
}
