package memory

import (
	"context"
	"time"
)

// revocation is a user's mark: sessions issued before `before` are refused
// until the mark expires.
type revocation struct {
	before  time.Time
	expires time.Time
}

// Revoke marks the user's sessions issued before `before` as revoked, for
// ttl (ttl <= 0 means 24h). A second mark keeps the later `before` and the
// later expiry, so a revocation is never shortened.
func (e *Engine) Revoke(ctx context.Context, userKey string, before time.Time, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		ttl = defaultRevokeTTL
	}
	s := e.shardOf(userKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := e.now()
	r := revocation{before: before, expires: now.Add(ttl)}
	if old, ok := s.revoked[userKey]; ok && now.Before(old.expires) {
		if old.before.After(r.before) {
			r.before = old.before
		}
		if old.expires.After(r.expires) {
			r.expires = old.expires
		}
	}
	s.revoked[userKey] = r
	return nil
}

// RevokedBefore returns the user's mark, or the zero time if none is live.
func (e *Engine) RevokedBefore(ctx context.Context, userKey string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	s := e.shardOf(userKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.revoked[userKey]
	if !ok {
		return time.Time{}, nil
	}
	if !e.now().Before(r.expires) {
		delete(s.revoked, userKey)
		return time.Time{}, nil
	}
	return r.before, nil
}
