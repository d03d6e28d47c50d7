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

// Revoker is the engine's pubsub.Revoker.
type Revoker struct{ *conn }

// Revoke marks the user's sessions issued before `before` as revoked for
// ttl (ttl <= 0 means 24h). The mark is a key holding before in Unix
// nanoseconds; a second mark keeps the later before and the later expiry,
// so a revocation is never shortened.
func (r *Revoker) Revoke(ctx context.Context, userKey string, before time.Time, ttl time.Duration) error {
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	if ttl <= 0 {
		ttl = DefaultRevokeTTL
	}
	err := revokeScript.Run(ctx, r.rdb, []string{r.keys.revoke(userKey)}, before.UnixNano(), ms(ttl)).Err()
	return r.wrap("revoke", err)
}

// RevokedBefore returns the user's revocation mark, or the zero time.
func (r *Revoker) RevokedBefore(ctx context.Context, userKey string) (time.Time, error) {
	ctx, cancel := r.opCtx(ctx)
	defer cancel()
	v, err := r.rdb.Get(ctx, r.keys.revoke(userKey)).Result()
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, r.wrap("revoked before", err)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("redis revoked before: bad mark %q: %w", v, err)
	}
	return time.Unix(0, n), nil
}
