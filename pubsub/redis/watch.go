package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotor-rt/rotor/pubsub"
)

// A node receives only the topics of the keys it subscribed to, so the
// admin live watch, which must see every publication of a project, gets
// its own path: while a watch of a project is open on any node, the
// project is flagged in one sorted set (project → expiry, refreshed every
// watchRefresh, kept watchTTL), every node caches the set, and a node that
// publishes to a flagged project forwards the publication to the
// project's watch topic after the publish script succeeded. Watching
// nodes subscribe that topic.
//
// The forward is the publishing node's, not the script's, because on a
// Cluster the script may touch only keys of the channel's slot, and the
// flag and the topic are the project's. It costs one more PUBLISH per
// publication while the project is watched, and an atomic load and a map
// look-up otherwise. The topics are classic pub/sub on every deployment:
// a watch topic carries a whole project, so it cannot follow the
// channels' slots; a Cluster broadcasts a classic PUBLISH to every master,
// which only watched projects pay. Forwarding after the script means two
// nodes' publications may reach the watch out of offset order, and a
// forward lost to an outage is not retried: the watch is a view for
// people, history stays the record.
const (
	// watchRefresh is how often a node refreshes its watches' flags and
	// re-reads the flagged set.
	watchRefresh = time.Second
	// watchTTL is how long a flag outlives the last refresh (a node that
	// died stops costing forwards after it).
	watchTTL = 5 * time.Second
)

func (k keyspace) watched() string                  { return k.prefix + ":watched" }
func (k keyspace) watchTopic(project string) string { return k.prefix + ":w:" + project }

// watchNotice is the topic a new watch is announced on, so that nodes
// start forwarding without waiting for their next refresh.
func (k keyspace) watchNotice() string { return k.prefix + ":watchnotice" }

func (k keyspace) projectOfWatchTopic(topic string) (string, bool) {
	p := k.prefix + ":w:"
	if len(topic) <= len(p) || topic[:len(p)] != p {
		return "", false
	}
	return topic[len(p):], true
}

// watchScript flags ARGV[2:] until now+ttl, drops expired flags and
// returns the flagged projects.
//
// KEYS: watched set. ARGV: ttl ms, projects...
var watchScript = goredis.NewScript(luaNowMs + `
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('zadd', KEYS[1], now + ttl, ARGV[i])
end
if #ARGV > 1 then
  redis.call('pexpire', KEYS[1], ttl)
end
redis.call('zremrangebyscore', KEYS[1], '-inf', now)
return redis.call('zrange', KEYS[1], 0, -1)
`)

// Watcher is the engine's source of the admin live watch (pubsub/node's
// ProjectWatcher): it flags watched projects, forwards the publications
// of flagged ones (Broker.Publish calls forward) and refreshes the flags
// (Engine.Start runs refreshLoop).
type Watcher struct {
	*conn
	subs *subscriber
	watches
}

// watches is this node's side of the live watch: the subscriber reads it
// too, to deliver forwarded publications and to resubscribe the watch
// topics on a new connection.
type watches struct {
	// topicMu orders the first watch's SUBSCRIBE of a project and the
	// last one's UNSUBSCRIBE, so that a watch opened while the last one
	// closes is not left without its topic.
	topicMu sync.Mutex
	mu      sync.Mutex
	fns     map[string]map[uint64]func(string, *pubsub.Publication) // project → watch id → callback
	next    uint64
	// flagged is the projects watched on any node, as last read; nil or
	// empty when none, which is what keeps Publish's cost near zero.
	flagged atomic.Pointer[map[string]struct{}]
}

func (w *watches) isFlagged(project string) bool {
	m := w.flagged.Load()
	if m == nil || len(*m) == 0 {
		return false
	}
	_, ok := (*m)[project]
	return ok
}

// flag adds project to the cached set (a notice, or a local watch).
func (w *watches) flag(project string) {
	for {
		old := w.flagged.Load()
		m := make(map[string]struct{})
		if old != nil {
			if _, ok := (*old)[project]; ok {
				return
			}
			for p := range *old {
				m[p] = struct{}{}
			}
		}
		m[project] = struct{}{}
		if w.flagged.CompareAndSwap(old, &m) {
			return
		}
	}
}

func (w *watches) local() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := make([]string, 0, len(w.fns))
	for p := range w.fns {
		ps = append(ps, p)
	}
	return ps
}

// deliver hands a forwarded publication to the project's local watches.
func (w *watches) deliver(project, payload string) error {
	var key string
	for i := 0; i < len(payload); i++ {
		if payload[i] == 0 {
			key, payload = payload[:i], payload[i+1:]
			break
		}
	}
	if key == "" || len(payload) < 1 || payload[0] != 'p' {
		return fmt.Errorf("malformed watch message")
	}
	if p, _ := pubsub.SplitKey(key); p != project {
		return fmt.Errorf("watch message of project %q on %q's topic", p, project)
	}
	var wp wirePublication
	if err := json.Unmarshal([]byte(payload[1:]), &wp); err != nil {
		return fmt.Errorf("decode publication: %w", err)
	}
	w.mu.Lock()
	fns := make([]func(string, *pubsub.Publication), 0, len(w.fns[project]))
	for _, fn := range w.fns[project] {
		fns = append(fns, fn)
	}
	w.mu.Unlock()
	for _, fn := range fns {
		fn(key, &pubsub.Publication{Offset: wp.Offset, Epoch: wp.Epoch, Data: wp.Data, Info: wp.Info})
	}
	return nil
}

// WatchProject calls fn with every publication made to project's channels
// on any node from about when it returns until stop is called; fn gets
// the channel's key and must not block. It is the admin live watch's
// source (docs/admin.md, Live watch).
func (w *Watcher) WatchProject(ctx context.Context, project string, fn func(key string, pub *pubsub.Publication)) (stop func(), err error) {
	ctx, cancel := w.opCtx(ctx)
	defer cancel()
	s := w.subs
	s.mu.Lock()
	if s.control == nil || s.stopped {
		s.mu.Unlock()
		return nil, fmt.Errorf("redis watch: %w", pubsub.ErrClosed)
	}
	s.mu.Unlock()
	w.mu.Lock()
	w.next++
	id := w.next
	first := w.fns[project] == nil
	if first {
		w.fns[project] = make(map[uint64]func(string, *pubsub.Publication))
	}
	w.fns[project][id] = fn
	w.mu.Unlock()
	stop = func() { w.unwatch(project, id) }
	if first {
		w.topicMu.Lock()
		err := s.subscribeTopics(ctx, s.control, []string{w.keys.watchTopic(project)})
		w.topicMu.Unlock()
		if err != nil {
			stop()
			return nil, err
		}
	}
	if err := watchScript.Run(ctx, w.rdb, []string{w.keys.watched()}, ms(watchTTL), project).Err(); err != nil {
		stop()
		return nil, w.wrap("watch", err)
	}
	w.flag(project)
	if err := w.rdb.Publish(ctx, w.keys.watchNotice(), project).Err(); err != nil {
		stop()
		return nil, w.wrap("watch", err)
	}
	return stop, nil
}

func (w *Watcher) unwatch(project string, id uint64) {
	w.mu.Lock()
	delete(w.fns[project], id)
	last := w.fns[project] != nil && len(w.fns[project]) == 0
	if last {
		delete(w.fns, project)
	}
	w.mu.Unlock()
	if !last {
		return
	}
	w.topicMu.Lock()
	defer w.topicMu.Unlock()
	w.mu.Lock()
	reopened := w.fns[project] != nil
	w.mu.Unlock()
	if reopened {
		return
	}
	ctx, cancel := w.opCtx(context.Background())
	defer cancel()
	// A failure leaves nothing behind: a replaced connection
	// resubscribes only the projects still watched.
	_ = w.subs.control.unsubscribe(ctx, []string{w.keys.watchTopic(project)})
}

// refreshLoop refreshes this node's flags and its cache of the flagged set
// until ctx is done.
func (w *Watcher) refreshLoop(ctx context.Context) {
	t := time.NewTicker(watchRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.refresh(ctx)
	}
}

func (w *Watcher) refresh(ctx context.Context) {
	ctx, cancel := w.opCtx(ctx)
	defer cancel()
	args := []any{ms(watchTTL)}
	for _, p := range w.local() {
		args = append(args, p)
	}
	list, err := watchScript.Run(ctx, w.rdb, []string{w.keys.watched()}, args...).StringSlice()
	if err != nil {
		// Keep the last set: forwards go on, or stay off, until Redis answers.
		return
	}
	m := make(map[string]struct{}, len(list))
	for _, p := range list {
		m[p] = struct{}{}
	}
	w.flagged.Store(&m)
}

// forward sends a publication to its project's watch topic when
// the project is flagged. The publication is made: a failure here is
// logged, not returned.
func (w *Watcher) forward(ctx context.Context, key string, data json.RawMessage, info string, pos pubsub.Position) {
	project, _ := pubsub.SplitKey(key)
	if !w.isFlagged(project) {
		return
	}
	msg := make([]byte, 0, len(key)+len(data)+len(info)+64)
	msg = append(msg, key...)
	msg = append(msg, 0, 'p')
	msg = append(msg, `{"o":`...)
	msg = strconv.AppendUint(msg, pos.Offset, 10)
	msg = append(msg, `,"e":`...)
	msg = strconv.AppendQuote(msg, pos.Epoch)
	msg = append(msg, `,"d":`...)
	msg = append(msg, data...)
	if len(info) > 0 {
		msg = append(msg, `,"i":`...)
		msg = append(msg, info...)
	}
	msg = append(msg, '}')
	if err := w.publish(ctx, w.keys.watchTopic(project), msg); err != nil {
		w.log.Debug("forward to watch topic", "key", key, "error", err)
	}
}

// publish publishes to a watch topic. On a Cluster it goes to the
// master of the topic's slot, always the same one, so that a node's
// forwards reach the watch in the order they were made: go-redis would
// send each classic PUBLISH to any node, and the cluster bus would then
// deliver them in whatever order their paths allow.
func (w *Watcher) publish(ctx context.Context, topic string, msg []byte) error {
	cc, ok := w.rdb.(*goredis.ClusterClient)
	if !ok {
		return w.rdb.Publish(ctx, topic, msg).Err()
	}
	master, err := cc.MasterForKey(ctx, topic)
	if err != nil {
		return err
	}
	return master.Publish(ctx, topic, msg).Err()
}
