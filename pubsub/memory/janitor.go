package memory

import (
	"context"
	"time"
)

// janitor drops expired state every sweep interval until ctx is done, so
// keys that are never read again do not stay in memory.
func (e *Engine) janitor(ctx context.Context) {
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.Sweep()
		}
	}
}

// Sweep drops every expired channel state, history, presence entry,
// revocation mark and idempotency key now. The janitor calls it; tests may too.
func (e *Engine) Sweep() {
	for i := range e.shards {
		s := &e.shards[i]
		// One shard at a time, so publishers wait at most one shard's sweep.
		s.mu.Lock()
		now := e.now()
		for key, c := range s.channels {
			if c.expired(now) {
				delete(s.channels, key)
				continue
			}
			c.expireHistory(now)
		}
		for key := range s.presence {
			s.livePresence(key, now)
		}
		for key, r := range s.revoked {
			if !now.Before(r.expires) {
				delete(s.revoked, key)
			}
		}
		for key, r := range s.idem {
			if !now.Before(r.expires) {
				delete(s.idem, key)
			}
		}
		s.mu.Unlock()
	}
}

// Counts is how much state an engine holds, expired or not.
type Counts struct {
	// Channels is the number of keys with stream state (epoch, offset,
	// history).
	Channels int
	// Publications is the number of publications held in histories.
	Publications int
	// Presence is the number of presence entries over all keys.
	Presence int
	// Revocations is the number of revocation marks.
	Revocations int
	// IdempotencyKeys is the number of remembered idempotency keys.
	IdempotencyKeys int
}

// Len counts the state the engine holds, including what has expired but
// has not been swept yet; for metrics and tests.
func (e *Engine) Len() Counts {
	var n Counts
	for i := range e.shards {
		s := &e.shards[i]
		s.mu.Lock()
		n.Channels += len(s.channels)
		for _, c := range s.channels {
			n.Publications += c.n
		}
		for _, clients := range s.presence {
			n.Presence += len(clients)
		}
		n.Revocations += len(s.revoked)
		n.IdempotencyKeys += len(s.idem)
		s.mu.Unlock()
	}
	return n
}
