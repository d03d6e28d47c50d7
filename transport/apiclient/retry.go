package apiclient

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"math/rand/v2"
	"time"
)

// backoff is the wait before retry n (n >= 1): full jitter over
// MinBackoff·2ⁿ⁻¹, capped at MaxBackoff, so that many publishers retrying
// after one outage do not come back in step.
func (c *Client) backoff(n int) time.Duration {
	d := c.opts.MaxBackoff
	if n-1 < 30 {
		d = min(c.opts.MinBackoff<<(n-1), c.opts.MaxBackoff)
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NewIdempotencyKey returns a random key (22 characters, 128 bits), what
// the client uses when a publish is given none.
func NewIdempotencyKey() string {
	var b [16]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
