package node

import (
	"crypto/subtle"
	"strings"
	"sync"
	"time"

	"github.com/rotor-rt/rotor/transport/auth"
)

// tokenCacheSize bounds the verified-token cache. When full, half of it is
// dropped: simple, and a miss only costs one verification.
const tokenCacheSize = 1 << 16

// maxCachedToken keeps big tokens (large info claims) out of the cache, so
// it holds at most tokenCacheSize × 2 KiB.
const maxCachedToken = 2 << 10

// tokenCache remembers connection tokens already verified, so a client
// that sends the same token on every long poll (the inline form) pays for
// HMAC and JSON parsing once, not per request. An entry is only used with
// the same project and secret, and never past the token's expiry.
type tokenCache struct {
	mu sync.Mutex
	m  map[string]*cachedToken
}

type cachedToken struct {
	project string
	secret  string
	claims  *auth.ConnectionClaims
}

func newTokenCache() *tokenCache { return &tokenCache{m: make(map[string]*cachedToken)} }

func (c *tokenCache) get(project, secret, token string, now time.Time) *auth.ConnectionClaims {
	c.mu.Lock()
	e := c.m[token]
	c.mu.Unlock()
	if e == nil || e.project != project || subtle.ConstantTimeCompare([]byte(e.secret), []byte(secret)) != 1 {
		return nil
	}
	if !e.claims.Expires.IsZero() && !now.Before(e.claims.Expires) {
		return nil
	}
	return e.claims
}

func (c *tokenCache) put(project, secret, token string, claims *auth.ConnectionClaims) {
	if len(token) > maxCachedToken {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= tokenCacheSize {
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= tokenCacheSize/2 {
				break
			}
		}
	}
	// A copy: the token is usually a piece of the request's query, and
	// the cache would keep the whole request line alive with it.
	c.m[strings.Clone(token)] = &cachedToken{project: project, secret: secret, claims: claims}
}
