package pubsub

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// numShards splits the hub's channel map so that publications to different
// channels never wait on one lock.
const numShards = 64

// Interest is the part of the engine the hub drives: it subscribes the node
// to a key on its first local subscriber and unsubscribes after the last.
type Interest interface {
	Subscribe(ctx context.Context, keys ...string) error
	Unsubscribe(ctx context.Context, keys ...string) error
}

// Hub fans publications out to this node's streams. It is sharded by
// channel key; fan-out queues one shared, once-encoded message per stream
// and never blocks on a slow stream.
type Hub struct {
	interest Interest
	seed     maphash.Seed
	shards   [numShards]shard

	mu      sync.Mutex
	streams map[*Stream]struct{}
	users   map[string]userSet // Key(project, user) → streams
	closed  bool

	watchMu  sync.RWMutex
	watchers map[*watcher]struct{}
	nWatch   atomic.Int32

	metrics hubMetrics

	// onOccupancy, when set, learns when a channel gets its first local
	// subscriber and loses its last.
	onOccupancy func(key string, occupied bool)
}

// OnOccupancy sets f to be told when a channel gets its first local
// subscriber (true) and loses its last (false). Call it before the hub is
// used. f must not block.
func (h *Hub) OnOccupancy(f func(key string, occupied bool)) { h.onOccupancy = f }

type hubMetrics struct {
	publications atomic.Uint64
	deliveries   atomic.Uint64
	slow         atomic.Uint64
}

type shard struct {
	// interestMu serialises engine Subscribe/Unsubscribe calls of the
	// shard's keys so they reach the engine in the order the hub decided.
	interestMu sync.Mutex
	mu         sync.RWMutex
	chans      map[string]*chanSubs
}

type chanSubs struct {
	subs []subEntry
}

type subEntry struct {
	s  *Stream
	ch int
}

type watcher struct {
	project string
	fn      func(key string, pub *Publication)
}

// NewHub returns a hub that tells interest which keys this node needs.
func NewHub(interest Interest) *Hub {
	h := &Hub{
		interest: interest,
		seed:     maphash.MakeSeed(),
		streams:  make(map[*Stream]struct{}),
		users:    make(map[string]userSet),
		watchers: make(map[*watcher]struct{}),
	}
	for i := range h.shards {
		h.shards[i].chans = make(map[string]*chanSubs)
	}
	return h
}

func (h *Hub) shardOf(key string) *shard {
	return &h.shards[maphash.String(h.seed, key)%numShards]
}

// Open creates a stream subscribed to keys, in order. Messages for them are
// queued from the moment Open returns, so a caller that reads history
// afterwards misses nothing. Keys must be distinct.
func (h *Hub) Open(ctx context.Context, opts StreamOptions, keys []string) (*Stream, error) {
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	s := &Stream{
		hub:    h,
		opts:   opts,
		keys:   keys,
		regs:   make([]int, len(keys)),
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	for i := range s.regs {
		s.regs[i] = -1
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, ErrClosed
	}
	h.streams[s] = struct{}{}
	if opts.User != "" {
		uk := Key(opts.Project, opts.User)
		h.users[uk] = h.users[uk].add(s)
	}
	h.mu.Unlock()
	for i, key := range keys {
		if err := h.register(ctx, s, i, key); err != nil {
			s.Close()
			return nil, fmt.Errorf("subscribe %q: %w", key, err)
		}
	}
	return s, nil
}

func (h *Hub) register(ctx context.Context, s *Stream, i int, key string) error {
	sh := h.shardOf(key)
	sh.interestMu.Lock()
	defer sh.interestMu.Unlock()
	sh.mu.Lock()
	cs := sh.chans[key]
	first := cs == nil
	if first {
		cs = &chanSubs{}
		sh.chans[key] = cs
	}
	s.regs[i] = len(cs.subs)
	cs.subs = append(cs.subs, subEntry{s: s, ch: i})
	sh.mu.Unlock()
	if !first {
		return nil
	}
	if err := h.interest.Subscribe(ctx, key); err != nil {
		sh.mu.Lock()
		h.unregisterLocked(sh, s, i)
		sh.mu.Unlock()
		return err
	}
	if h.onOccupancy != nil {
		h.onOccupancy(key, true)
	}
	return nil
}

// unregisterLocked removes s's channel i from its shard and reports
// whether the channel has no subscriber left. Callers hold sh.mu.
func (h *Hub) unregisterLocked(sh *shard, s *Stream, i int) (empty bool) {
	slot := s.regs[i]
	if slot < 0 {
		return false
	}
	key := s.keys[i]
	cs := sh.chans[key]
	last := len(cs.subs) - 1
	if slot != last {
		moved := cs.subs[last]
		cs.subs[slot] = moved
		moved.s.regs[moved.ch] = slot
	}
	cs.subs[last] = subEntry{}
	cs.subs = cs.subs[:last]
	s.regs[i] = -1
	if len(cs.subs) == 0 {
		delete(sh.chans, key)
		return true
	}
	return false
}

func (h *Hub) unregister(s *Stream, i int) {
	key := s.keys[i]
	sh := h.shardOf(key)
	sh.interestMu.Lock()
	defer sh.interestMu.Unlock()
	sh.mu.Lock()
	empty := h.unregisterLocked(sh, s, i)
	sh.mu.Unlock()
	if empty {
		// The engine's interest is best effort on the way out: a failed
		// unsubscribe only costs deliveries the hub drops for lack of
		// subscribers.
		_ = h.interest.Unsubscribe(context.Background(), key)
		if h.onOccupancy != nil {
			h.onOccupancy(key, false)
		}
	}
}

func (h *Hub) removeStream(s *Stream) {
	h.mu.Lock()
	_, ok := h.streams[s]
	delete(h.streams, s)
	if s.opts.User != "" {
		uk := Key(s.opts.Project, s.opts.User)
		if set, empty := h.users[uk].remove(s); empty {
			delete(h.users, uk)
		} else {
			h.users[uk] = set
		}
	}
	h.mu.Unlock()
	if !ok {
		return
	}
	for i := range s.keys {
		h.unregister(s, i)
	}
}

// Publish queues a publication for every local subscriber of key, encoding
// it once. It never blocks on a stream.
func (h *Hub) Publish(key string, pub *Publication) error {
	h.metrics.publications.Add(1)
	if h.nWatch.Load() > 0 {
		h.notifyWatchers(key, pub)
	}
	sh := h.shardOf(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	cs := sh.chans[key]
	if cs == nil {
		return nil
	}
	m, err := encodePublication(key, pub)
	if err != nil {
		return fmt.Errorf("encode publication in %q: %w", key, err)
	}
	h.fanOutLocked(cs, m)
	return nil
}

// PublishPresence queues a join or leave event for key's local subscribers.
func (h *Hub) PublishPresence(kind EventKind, key string, info *ClientInfo) error {
	if kind != EventJoin && kind != EventLeave {
		return errors.New("presence event must be join or leave")
	}
	sh := h.shardOf(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	cs := sh.chans[key]
	if cs == nil {
		return nil
	}
	m, err := encodePresence(kind, key, info)
	if err != nil {
		return fmt.Errorf("encode %s in %q: %w", kind, key, err)
	}
	h.fanOutLocked(cs, m)
	return nil
}

func (h *Hub) fanOutLocked(cs *chanSubs, m *Message) {
	for _, e := range cs.subs {
		e.s.deliver(m, e.ch)
	}
	h.metrics.deliveries.Add(uint64(len(cs.subs)))
}

// Resync tells every stream that deliveries may have been lost (the engine
// reconnected): each checks its channels against history.
func (h *Hub) Resync() {
	for _, s := range h.snapshot() {
		s.markResync()
	}
}

// ResyncKeys is Resync for the streams that hold one of keys (the engine
// may have missed deliveries for those only, e.g. after a Cluster slot
// moved).
func (h *Hub) ResyncKeys(keys ...string) {
	marked := make(map[*Stream]struct{})
	for _, key := range keys {
		sh := h.shardOf(key)
		sh.mu.RLock()
		if cs := sh.chans[key]; cs != nil {
			for _, e := range cs.subs {
				marked[e.s] = struct{}{}
			}
		}
		sh.mu.RUnlock()
	}
	for s := range marked {
		s.markResync()
	}
}

func (h *Hub) snapshot() []*Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Stream, 0, len(h.streams))
	for s := range h.streams {
		out = append(out, s)
	}
	return out
}

func (h *Hub) userStreams(project, user string) []*Stream {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.users[Key(project, user)].appendTo(nil)
}

// userSet holds one user's streams: most users have one stream, which is
// held without a map (a map per user was a tenth of an idle stream's
// memory when every stream is its own user).
type userSet struct {
	one  *Stream
	more map[*Stream]struct{}
}

func (u userSet) add(s *Stream) userSet {
	switch {
	case u.one == nil && u.more == nil:
		u.one = s
	case u.more == nil:
		u.more = map[*Stream]struct{}{u.one: {}, s: {}}
		u.one = nil
	default:
		u.more[s] = struct{}{}
	}
	return u
}

// remove takes s out and reports whether the set is empty.
func (u userSet) remove(s *Stream) (userSet, bool) {
	if u.more == nil {
		if u.one == s {
			u.one = nil
		}
		return u, u.one == nil
	}
	delete(u.more, s)
	return u, len(u.more) == 0
}

func (u userSet) appendTo(out []*Stream) []*Stream {
	if u.one != nil {
		out = append(out, u.one)
	}
	for s := range u.more {
		out = append(out, s)
	}
	return out
}

// UnsubscribeUser removes the user's streams from channel key; each gets an
// `unsub` event for it. It returns how many streams were affected.
func (h *Hub) UnsubscribeUser(project, user, key string) int {
	n := 0
	for _, s := range h.userStreams(project, user) {
		n += h.unsubscribe(s, key)
	}
	return n
}

// UnsubscribeClient removes one client's streams from channel key.
func (h *Hub) UnsubscribeClient(project, client, key string) int {
	n := 0
	for _, s := range h.snapshot() {
		if s.opts.Project == project && s.opts.Client == client {
			n += h.unsubscribe(s, key)
		}
	}
	return n
}

// unsubscribe removes stream s from channel key, if it holds it, and
// queues the `unsub` for it. It reports 1 when it did, else 0.
func (h *Hub) unsubscribe(s *Stream, key string) int {
	for i, k := range s.keys {
		if k == key {
			h.unregister(s, i)
			s.markUnsub(i)
			return 1
		}
	}
	return 0
}

// DisconnectUser ends every stream of the user with reason.
func (h *Hub) DisconnectUser(project, user string, reason *Disconnect) int {
	streams := h.userStreams(project, user)
	for _, s := range streams {
		s.end(reason)
	}
	return len(streams)
}

// Shutdown ends every stream with reason and refuses new ones.
func (h *Hub) Shutdown(reason *Disconnect) {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	for _, s := range h.snapshot() {
		s.end(reason)
	}
}

// Streams returns how many streams are open.
func (h *Hub) Streams() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.streams)
}

// Channels returns the subscriber count of every channel with local
// subscribers, by key.
func (h *Hub) Channels() map[string]int {
	out := make(map[string]int)
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for k, cs := range sh.chans {
			out[k] = len(cs.subs)
		}
		sh.mu.RUnlock()
	}
	return out
}

// HubStats are the hub's counters since it started.
type HubStats struct {
	Streams, Channels, Subscriptions int
	Publications, Deliveries, Slow   uint64
}

// Stats returns current counts and totals.
func (h *Hub) Stats() HubStats {
	st := HubStats{
		Streams:      h.Streams(),
		Publications: h.metrics.publications.Load(),
		Deliveries:   h.metrics.deliveries.Load(),
		Slow:         h.metrics.slow.Load(),
	}
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		st.Channels += len(sh.chans)
		for _, cs := range sh.chans {
			st.Subscriptions += len(cs.subs)
		}
		sh.mu.RUnlock()
	}
	return st
}

// Watch calls fn for every publication of project that reaches this node
// until the returned stop function is called. fn must not block.
func (h *Hub) Watch(project string, fn func(key string, pub *Publication)) (stop func()) {
	w := &watcher{project: project, fn: fn}
	h.watchMu.Lock()
	h.watchers[w] = struct{}{}
	h.nWatch.Add(1)
	h.watchMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.watchMu.Lock()
			delete(h.watchers, w)
			h.nWatch.Add(-1)
			h.watchMu.Unlock()
		})
	}
}

func (h *Hub) notifyWatchers(key string, pub *Publication) {
	project, _ := SplitKey(key)
	h.watchMu.RLock()
	defer h.watchMu.RUnlock()
	for w := range h.watchers {
		if w.project == project {
			w.fn(key, pub)
		}
	}
}
