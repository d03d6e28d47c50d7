package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// redirects counts the MOVED, ASK and TRYAGAIN answers a node client got,
// which the Cluster client then followed or retried.
type redirects struct {
	mu sync.Mutex
	n  map[string]int // "MOVED evalsha" → count
}

func (r *redirects) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (r *redirects) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (r *redirects) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil {
			kind, _, _ := strings.Cut(err.Error(), " ")
			switch kind {
			case "MOVED", "ASK", "TRYAGAIN":
				r.mu.Lock()
				r.n[kind+" "+cmd.Name()]++
				r.mu.Unlock()
			}
		}
		return err
	}
}

func (r *redirects) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := 0
	for k, v := range r.n {
		if strings.HasPrefix(k, prefix) {
			c += v
		}
	}
	return c
}

func (r *redirects) String() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.n)
}

// hooked returns an engine on url whose node clients count redirects.
func hooked(t *testing.T, url, prefix string) (*Engine, *redirects) {
	t.Helper()
	e := newEngine(t, url, prefix)
	r := &redirects{n: map[string]int{}}
	e.rdb.(*goredis.ClusterClient).OnNewNode(func(c *goredis.Client) { c.AddHook(r) })
	return e, r
}

// TestClusterReshard moves the slots of four active channels between the
// masters of a real three-master Cluster, key by key (CLUSTER SETSLOT
// IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE, as redis-cli --cluster
// reshard does) while one engine publishes and reads history without
// pause and another is subscribed. Publishing follows TRYAGAIN, ASK and
// MOVED and never fails; history holds every acknowledged publication, in
// one epoch; the
// subscriber notices the sunsubscribe Redis sends when a slot leaves,
// resubscribes on the new owner, asks for a resync from history, and
// delivers in order throughout.
func TestClusterReshard(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	ctx := t.Context()
	nodes := make([]*goredis.Client, len(c.Servers))
	ids := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		nodes[i] = goredis.NewClient(&goredis.Options{Addr: s.Addr(), Protocol: 2})
		defer nodes[i].Close()
		id, err := nodes[i].ClusterMyID(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	owner := func(slot int) int {
		t.Helper()
		shards, err := nodes[0].ClusterShards(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range shards {
			for _, r := range sh.Slots {
				if r.Start > int64(slot) || int64(slot) > r.End {
					continue
				}
				for _, n := range sh.Nodes {
					for i, s := range c.Servers {
						if n.Role == "master" && s.Addr() == net.JoinHostPort(n.IP, strconv.FormatInt(n.Port, 10)) {
							return i
						}
					}
				}
			}
		}
		t.Fatalf("no owner for slot %d", slot)
		return -1
	}

	prefix := fmt.Sprintf("t%d", prefixSeq.Add(1))
	pubE, pubRedirects := hooked(t, c.URL(), prefix)
	stale, staleRedirects := hooked(t, c.URL(), prefix) // reads once before, once after
	subE, rec := startEngine(t, c.URL(), prefix)
	keys := []string{"p|r0", "p|r1", "p|r2", "p|r3"}
	if err := subE.Broker().Subscribe(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, err := stale.Broker().History(ctx, k, pubsub.HistoryRequest{Limit: 0}); err != nil {
			t.Fatal(err)
		}
	}
	opts := pubsub.PublishOptions{HistorySize: 10000, HistoryTTL: time.Minute}

	log := newPubLog()
	var stop atomic.Bool
	var histErrs, histOK atomic.Int64
	var errMu sync.Mutex
	pubErrs := map[string]int{} // the Redis error word of failed publishes
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for n := 1; !stop.Load(); n++ {
			key := keys[n%len(keys)]
			pos, err := pubE.Broker().Publish(ctx, key, data(n), opts)
			log.record(key, n, pos, err)
			if err != nil {
				errMu.Lock()
				pubErrs[errKind(err)]++
				errMu.Unlock()
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for n := 0; !stop.Load(); n++ {
			if _, err := pubE.Broker().History(ctx, keys[n%len(keys)], pubsub.HistoryRequest{Limit: 5}); err != nil {
				histErrs.Add(1)
			} else {
				histOK.Add(1)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { stop.Store(true); wg.Wait() }()
	within(t, 10*time.Second, "100 publications before resharding", func() bool { return log.count() >= 100 })

	moveSlot := func(sl, from, to int) {
		t.Helper()
		host, port, _ := net.SplitHostPort(c.Servers[to].Addr())
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("move slot %d from %d to %d: %v", sl, from, to, err)
			}
		}
		must(nodes[to].Do(ctx, "CLUSTER", "SETSLOT", sl, "IMPORTING", ids[from]).Err())
		must(nodes[from].Do(ctx, "CLUSTER", "SETSLOT", sl, "MIGRATING", ids[to]).Err())
		for {
			ks, err := nodes[from].ClusterGetKeysInSlot(ctx, sl, 1).Result()
			must(err)
			if len(ks) == 0 {
				break
			}
			must(nodes[from].Migrate(ctx, host, port, ks[0], 0, 5*time.Second).Err())
			// Publications meet the channel half moved (TRYAGAIN), then
			// moved while its slot still migrates (ASK).
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		for _, i := range []int{to, from, 3 - to - from} {
			must(nodes[i].Do(ctx, "CLUSTER", "SETSLOT", sl, "NODE", ids[to]).Err())
		}
	}
	start := time.Now()
	moved := map[int]bool{}
	newOwner := map[string]string{}
	for _, k := range keys {
		sl := slot(pubE.keys.topic(k))
		if !moved[sl] {
			from := owner(sl)
			moveSlot(sl, from, (from+1)%3)
			moved[sl] = true
		}
		newOwner[k] = c.Servers[owner(sl)].Addr()
	}
	reshard := time.Since(start)

	// The subscriber follows each channel to its new master.
	within(t, 10*time.Second, "subscriptions on the new masters", func() bool {
		subE.subs.mu.Lock()
		defer subE.subs.mu.Unlock()
		for _, k := range keys {
			if sh := subE.subs.keys[k]; sh == nil || sh.addr != newOwner[k] {
				return false
			}
		}
		return true
	})
	within(t, 5*time.Second, "a resync of every moved channel", func() bool {
		for _, k := range keys {
			if rec.resyncCount(k) == 0 {
				return false
			}
		}
		return true
	})
	if n := rec.reconnectCount(); n != 0 {
		t.Errorf("%d HandleReconnect calls: a slot move should resync only its channels", n)
	}
	base := log.count()
	within(t, 10*time.Second, "100 publications after resharding", func() bool { return log.count() >= base+100 })
	stop.Store(true)
	wg.Wait()

	// A client whose slot map predates the moves is redirected (MOVED)
	// and reads every channel from its new master.
	for _, k := range keys {
		res, err := stale.Broker().History(ctx, k, pubsub.HistoryRequest{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Publications) < len(log.acked[k]) {
			t.Errorf("%s: stale client read %d publications, %d acknowledged", k, len(res.Publications), len(log.acked[k]))
		}
	}
	if staleRedirects.count("MOVED") == 0 {
		t.Errorf("the stale client saw no MOVED: %v", staleRedirects)
	}
	if pubRedirects.count("ASK") == 0 {
		t.Errorf("publishing during migration saw no ASK: %v", pubRedirects)
	}

	gaps := 0
	for _, k := range keys {
		acks := log.acked[k]
		epoch := acks[0].pos.Epoch
		res, err := pubE.Broker().History(ctx, k, pubsub.HistoryRequest{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Position.Epoch != epoch {
			t.Errorf("%s: epoch %s after resharding, %s before", k, res.Position.Epoch, epoch)
		}
		byOffset := map[uint64]int{}
		for _, p := range res.Publications {
			byOffset[p.Offset] = dataN(t, p)
		}
		for _, a := range acks {
			if a.pos.Epoch != epoch {
				t.Errorf("%s: acknowledged in epoch %s, want %s", k, a.pos.Epoch, epoch)
			}
			if byOffset[a.pos.Offset] != a.n {
				t.Errorf("%s: acknowledged %d at offset %d, history has %d", k, a.n, a.pos.Offset, byOffset[a.pos.Offset])
			}
		}
		for off, n := range byOffset {
			if !log.failed[k][n] && !ackedIn(acks, n, epoch) {
				t.Errorf("%s: history has %d at offset %d, never published", k, n, off)
			}
		}
		// Live delivery: in order, each matching history; a gap is what
		// the resync fills.
		rec.mu.Lock()
		got := append([]*pubsub.Publication(nil), rec.pubs[k]...)
		rec.mu.Unlock()
		var last uint64
		for _, p := range got {
			if p.Offset <= last {
				t.Errorf("%s: delivered offset %d after %d", k, p.Offset, last)
			}
			if p.Offset > last+1 && last > 0 {
				gaps++
			}
			var v struct{ N int }
			if err := json.Unmarshal(p.Data, &v); err != nil || byOffset[p.Offset] != v.N {
				t.Errorf("%s: delivered %s at offset %d, history has %d", k, p.Data, p.Offset, byOffset[p.Offset])
			}
			last = p.Offset
		}
	}
	if rec.overlap.Load() {
		t.Error("calls for one key overlapped")
	}

	// After the moves every channel delivers live from its new master.
	for _, k := range keys {
		before := rec.pubCount(k)
		for i := range 5 {
			if _, err := pubE.Broker().Publish(ctx, k, data(100000+i), opts); err != nil {
				t.Fatal(err)
			}
		}
		within(t, 5*time.Second, "live delivery on "+k+" after resharding", func() bool { return rec.pubCount(k) == before+5 })
	}
	failed := 0
	for _, f := range log.failed {
		failed += len(f)
	}
	errMu.Lock()
	defer errMu.Unlock()
	if failed > 0 || histErrs.Load() > 0 {
		t.Errorf("%d publishes failed %v and %d history reads: the redirect budget should outlast a channel half moved", failed, pubErrs, histErrs.Load())
	}
	t.Logf("%d slots moved in %s; %d publications acknowledged, %d failed %v; %d history reads, %d failed; redirects %v; gaps in live delivery %d, resyncs asked %v",
		len(moved), reshard.Round(time.Millisecond), log.count(), failed, pubErrs, histOK.Load(), histErrs.Load(), pubRedirects, gaps, rec.resyncSnapshot())
}

// errKind is the first word of the Redis error inside a wrapped engine
// error ("TRYAGAIN", "ASK", …), or the whole message.
func errKind(err error) string {
	var rerr goredis.Error
	if errors.As(err, &rerr) {
		kind, _, _ := strings.Cut(rerr.Error(), " ")
		return kind
	}
	return err.Error()
}
