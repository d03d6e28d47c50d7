package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// Presence is the engine's pubsub.PresenceStore.
type Presence struct{ *conn }

// AddPresence adds or refreshes a client in key's presence for ttl (ttl <=
// 0 means 60s, so no entry lives forever). The
// entry lives in a hash (client → info) with its expiry in a sorted set,
// cleaned on every read; both keys expire whole when every entry has.
func (p *Presence) AddPresence(ctx context.Context, key string, info *pubsub.ClientInfo, ttl time.Duration) error {
	ctx, cancel := p.opCtx(ctx)
	defer cancel()
	if ttl <= 0 {
		ttl = DefaultPresenceTTL
	}
	if info == nil || info.Client == "" {
		return fmt.Errorf("redis add presence: client id is empty")
	}
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encode client info: %w", err)
	}
	err = addTTLScript.Run(ctx, p.rdb,
		[]string{p.keys.presence(key), p.keys.presenceZ(key)},
		info.Client, b, ms(ttl),
	).Err()
	return p.wrap("add presence", err)
}

// RemovePresence removes a client from key's presence.
func (p *Presence) RemovePresence(ctx context.Context, key, client string) error {
	ctx, cancel := p.opCtx(ctx)
	defer cancel()
	_, err := p.rdb.TxPipelined(ctx, func(tx goredisPipeliner) error {
		tx.HDel(ctx, p.keys.presence(key), client)
		tx.ZRem(ctx, p.keys.presenceZ(key), client)
		return nil
	})
	return p.wrap("remove presence", err)
}

// Presence returns key's live clients by client id.
func (p *Presence) Presence(ctx context.Context, key string) (map[string]*pubsub.ClientInfo, error) {
	flat, err := p.readPresence(ctx, key)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*pubsub.ClientInfo, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		info := new(pubsub.ClientInfo)
		if err := json.Unmarshal([]byte(flat[i+1]), info); err != nil {
			return nil, fmt.Errorf("redis presence: decode %q: %w", flat[i], err)
		}
		out[flat[i]] = info
	}
	return out, nil
}

// PresenceStats counts key's live clients and distinct users.
func (p *Presence) PresenceStats(ctx context.Context, key string) (pubsub.PresenceStats, error) {
	flat, err := p.readPresence(ctx, key)
	if err != nil {
		return pubsub.PresenceStats{}, err
	}
	users := make(map[string]struct{})
	for i := 0; i+1 < len(flat); i += 2 {
		var u struct {
			User string `json:"user"`
		}
		if err := json.Unmarshal([]byte(flat[i+1]), &u); err != nil {
			return pubsub.PresenceStats{}, fmt.Errorf("redis presence stats: decode %q: %w", flat[i], err)
		}
		users[u.User] = struct{}{}
	}
	return pubsub.PresenceStats{Clients: len(flat) / 2, Users: len(users)}, nil
}

func (p *Presence) readPresence(ctx context.Context, key string) ([]string, error) {
	ctx, cancel := p.opCtx(ctx)
	defer cancel()
	flat, err := readTTLScript.Run(ctx, p.rdb,
		[]string{p.keys.presence(key), p.keys.presenceZ(key)},
	).StringSlice()
	if err != nil {
		return nil, p.wrap("presence", err)
	}
	return flat, nil
}
