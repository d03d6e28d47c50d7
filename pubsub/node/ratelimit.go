package node

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiters holds one token bucket per client (commands) and per API
// key (server API), forgetting those idle for a minute.
type rateLimiters struct {
	limits Limits

	mu      sync.Mutex
	clients map[string]*limiterEntry
	pubs    map[string]*limiterEntry
	apiKeys map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newRateLimiters(l Limits) *rateLimiters {
	return &rateLimiters{limits: l, clients: make(map[string]*limiterEntry), pubs: make(map[string]*limiterEntry), apiKeys: make(map[string]*limiterEntry)}
}

func (r *rateLimiters) take(m map[string]*limiterEntry, key string, rps float64, burst, n int) bool {
	now := time.Now()
	r.mu.Lock()
	e := m[key]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(rate.Limit(rps), burst)}
		m[key] = e
	}
	e.seen = now
	r.mu.Unlock()
	return e.lim.AllowN(now, n)
}

// allowCommands reports whether client may run n more commands now.
func (r *rateLimiters) allowCommands(client string, n int) bool {
	burst := max(r.limits.CommandBurst, n)
	return r.take(r.clients, client, r.limits.CommandRate, burst, n)
}

// allowPublish reports whether client may publish once more now.
func (r *rateLimiters) allowPublish(client string) bool {
	if r.limits.PublishRate <= 0 {
		return true
	}
	burst := max(int(r.limits.PublishRate), 1)
	return r.take(r.pubs, client, r.limits.PublishRate, burst, 1)
}

// allowAPI reports whether the API key may make one more request now.
func (r *rateLimiters) allowAPI(apiKey string) bool {
	if r.limits.APIRate <= 0 {
		return true
	}
	burst := max(int(r.limits.APIRate), 1)
	return r.take(r.apiKeys, apiKey, r.limits.APIRate, burst, 1)
}

// run forgets idle limiters every minute until ctx is done.
func (r *rateLimiters) run(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			r.mu.Lock()
			for _, m := range []map[string]*limiterEntry{r.clients, r.pubs, r.apiKeys} {
				for k, e := range m {
					if now.Sub(e.seen) > time.Minute {
						delete(m, k)
					}
				}
			}
			r.mu.Unlock()
		}
	}
}
