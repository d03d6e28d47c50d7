package memory

import (
	"context"
	"errors"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// presenceEntry is one client in a key's presence.
type presenceEntry struct {
	info    *pubsub.ClientInfo
	expires time.Time
}

// AddPresence adds or refreshes info.Client in the key's presence for ttl
// (ttl <= 0 means 60s, so no entry lives forever).
func (e *Engine) AddPresence(ctx context.Context, key string, info *pubsub.ClientInfo, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if ttl <= 0 {
		ttl = defaultPresenceTTL
	}
	if info == nil || info.Client == "" {
		return errors.New("memory add presence: client id is empty")
	}
	s := e.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	clients := s.presence[key]
	if clients == nil {
		clients = make(map[string]presenceEntry)
		s.presence[key] = clients
	}
	clients[info.Client] = presenceEntry{info: info, expires: e.now().Add(ttl)}
	return nil
}

// RemovePresence removes a client from the key's presence.
func (e *Engine) RemovePresence(ctx context.Context, key, client string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := e.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if clients := s.presence[key]; clients != nil {
		delete(clients, client)
		if len(clients) == 0 {
			delete(s.presence, key)
		}
	}
	return nil
}

// Presence returns the key's present clients by client id. The map is the
// caller's; the ClientInfo values are shared and must not be changed.
func (e *Engine) Presence(ctx context.Context, key string) (map[string]*pubsub.ClientInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := e.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	clients := s.livePresence(key, e.now())
	out := make(map[string]*pubsub.ClientInfo, len(clients))
	for id, p := range clients {
		out[id] = p.info
	}
	return out, nil
}

// PresenceStats counts the key's present clients and distinct users. All
// anonymous clients (empty user) count as one user, as in Centrifugo.
func (e *Engine) PresenceStats(ctx context.Context, key string) (pubsub.PresenceStats, error) {
	if err := ctx.Err(); err != nil {
		return pubsub.PresenceStats{}, err
	}
	s := e.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	clients := s.livePresence(key, e.now())
	users := make(map[string]struct{}, len(clients))
	for _, p := range clients {
		users[p.info.User] = struct{}{}
	}
	return pubsub.PresenceStats{Clients: len(clients), Users: len(users)}, nil
}

// livePresence drops the key's expired entries and returns the rest.
// s.mu must be held.
func (s *shard) livePresence(key string, now time.Time) map[string]presenceEntry {
	clients := s.presence[key]
	for id, p := range clients {
		if !now.Before(p.expires) {
			delete(clients, id)
		}
	}
	if clients != nil && len(clients) == 0 {
		delete(s.presence, key)
		return nil
	}
	return clients
}
