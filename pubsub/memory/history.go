package memory

import (
	"context"
	"encoding/json"

	"github.com/rotor-rt/rotor/pubsub"
)

// Publish assigns the next offset, appends to the key's history and calls
// the handler, as one step: calls for one key reach the handler in offset
// order. Data is kept as given. The publication given to the handler is
// shared with history and never changed afterwards.
func (e *Engine) Publish(ctx context.Context, key string, data json.RawMessage, opts pubsub.PublishOptions) (pubsub.Position, error) {
	if err := ctx.Err(); err != nil {
		return pubsub.Position{}, err
	}
	if len(data) == 0 {
		data = json.RawMessage("null") // as the Redis engine: history stays valid JSON
	}
	ttl := opts.HistoryTTL
	if ttl <= 0 {
		ttl = defaultHistoryTTL
	}
	size := max(opts.HistorySize, 0)

	s := e.shardOf(key)
	s.deliver.Lock()
	defer s.deliver.Unlock()

	s.mu.Lock()
	now := e.now()
	var ikey idemKey
	if opts.IdempotencyKey != "" {
		ikey = idemKey{channel: key, key: opts.IdempotencyKey}
		if prev, ok := s.idem[ikey]; ok && now.Before(prev.expires) {
			s.mu.Unlock()
			return prev.pos, nil
		}
	}
	c := s.channels[key]
	if c == nil || c.expired(now) {
		c = newChannel(now)
		s.channels[key] = c
	}
	c.expireHistory(now)
	c.offset++
	pub := &pubsub.Publication{Offset: c.offset, Data: data, Info: opts.Info, Epoch: c.epoch}
	c.resize(size)
	c.push(pub)
	c.historyExpires = now.Add(ttl)
	c.expires = now.Add(max(ttl, defaultMetaTTL))
	pos := pubsub.Position{Epoch: c.epoch, Offset: c.offset}
	if opts.IdempotencyKey != "" {
		s.idem[ikey] = idemEntry{pos: pos, expires: now.Add(opts.IdempotencyWindowOrDefault())}
	}
	s.mu.Unlock()

	// Still under s.deliver: the next publication to this key waits.
	if h := e.handlerOf(); h != nil {
		h.HandlePublication(key, pub)
	}
	return pos, nil
}

// History reads the key's history; see pubsub.HistoryRequest. A key never
// published to (or whose state expired) gets its state created here with a
// fresh epoch and offset 0, so the epoch a new subscriber is told stays the
// same when the first publication comes.
func (e *Engine) History(ctx context.Context, key string, req pubsub.HistoryRequest) (pubsub.HistoryResult, error) {
	if err := ctx.Err(); err != nil {
		return pubsub.HistoryResult{}, err
	}
	s := e.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := e.now()
	c := s.channels[key]
	if c == nil || c.expired(now) {
		c = newChannel(now.Add(defaultMetaTTL))
		s.channels[key] = c
	}
	c.expireHistory(now)
	return pubsub.HistoryResult{
		Publications: c.read(req),
		Position:     pubsub.Position{Epoch: c.epoch, Offset: c.offset},
	}, nil
}

// RemoveHistory drops the key's publications; its epoch and offset stay.
func (e *Engine) RemoveHistory(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s := e.shardOf(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.channels[key]
	if c == nil {
		return nil
	}
	if c.expired(e.now()) {
		delete(s.channels, key)
		return nil
	}
	c.clear()
	return nil
}
