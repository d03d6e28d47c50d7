package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// goredisPipeliner shortens transaction callbacks' signatures.
type goredisPipeliner = goredis.Pipeliner

// Revoke marks the user's sessions issued before `before` as revoked for
// ttl (ttl <= 0 means 24h). The mark is a key holding before in Unix
// nanoseconds; a second mark keeps the later before and the later expiry,
// so a revocation is never shortened.
func (e *Engine) Revoke(ctx context.Context, userKey string, before time.Time, ttl time.Duration) error {
	ctx, cancel := e.opCtx(ctx)
	defer cancel()
	if ttl <= 0 {
		ttl = DefaultRevokeTTL
	}
	err := revokeScript.Run(ctx, e.rdb, []string{e.keys.revoke(userKey)}, before.UnixNano(), ms(ttl)).Err()
	return e.wrap("revoke", err)
}

// RevokedBefore returns the user's revocation mark, or the zero time.
func (e *Engine) RevokedBefore(ctx context.Context, userKey string) (time.Time, error) {
	ctx, cancel := e.opCtx(ctx)
	defer cancel()
	v, err := e.rdb.Get(ctx, e.keys.revoke(userKey)).Result()
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, e.wrap("revoked before", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redis revoked before: bad mark %q: %w", v, err)
	}
	return time.Unix(0, n), nil
}
