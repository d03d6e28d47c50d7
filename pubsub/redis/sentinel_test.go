package redis

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// within polls cond every 10ms until it holds or d passes.
func within(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pubLog records what a publisher was told: the acknowledged positions and
// the numbers whose publish failed (they may or may not have happened).
type pubLog struct {
	mu     sync.Mutex
	acked  map[string][]ackedPub
	failed map[string]map[int]bool
}

type ackedPub struct {
	n   int
	pos pubsub.Position
	at  time.Time
}

func newPubLog() *pubLog {
	return &pubLog{acked: map[string][]ackedPub{}, failed: map[string]map[int]bool{}}
}

func (l *pubLog) record(key string, n int, pos pubsub.Position, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		if l.failed[key] == nil {
			l.failed[key] = map[int]bool{}
		}
		l.failed[key][n] = true
		return
	}
	l.acked[key] = append(l.acked[key], ackedPub{n: n, pos: pos, at: time.Now()})
}

func (l *pubLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := 0
	for _, a := range l.acked {
		c += len(a)
	}
	return c
}

// firstAckInNewEpoch is the time of the first acknowledgement in an epoch
// other than its channel's first, if any: the first publish served by a
// promoted replica.
func (l *pubLog) firstAckInNewEpoch() (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var first time.Time
	for _, list := range l.acked {
		for _, a := range list {
			if a.pos.Epoch != list[0].pos.Epoch && (first.IsZero() || a.at.Before(first)) {
				first = a.at
			}
		}
	}
	return first, !first.IsZero()
}

// dataN reads back the number of data(n).
func dataN(t testing.TB, pub *pubsub.Publication) int {
	t.Helper()
	var v struct{ N int }
	if err := json.Unmarshal(pub.Data, &v); err != nil {
		t.Fatalf("publication data %s: %v", pub.Data, err)
	}
	return v.N
}

// TestSentinelFailover: one master, one replica, three Sentinels (quorum
// 2), the engine on a redis-sentinel:// URL. The master is SIGKILLed while
// a publisher publishes to history channels without pause; the Sentinels
// promote the replica. The engine follows: publishes succeed again within
// a bound and the subscribing engine's pub/sub comes back (HandleReconnect,
// then live delivery). Replication is asynchronous, so the promoted replica
// may lack the master's last acknowledged writes: every channel written
// before the failover starts a new epoch at its next touch (publish or
// history), which streams report as recovered: false, and offsets are
// never reused within an epoch.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	master := startServer(t)
	replica := redistest.StartReplica(t, master)
	ctx := t.Context()
	rc := goredis.NewClient(&goredis.Options{Addr: replica.Addr(), Protocol: 2})
	defer rc.Close()
	within(t, 10*time.Second, "replica in sync", func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && containsLine(info, "master_link_status:up")
	})
	sentinels := redistest.StartSentinels(t, master, 3, 2)
	for _, s := range sentinels {
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr(), Protocol: 2})
		defer sc.Close()
		// A failover needs each Sentinel to know the replica and its peers.
		within(t, 15*time.Second, "sentinel "+s.Addr()+" to see the replica and two peers", func() bool {
			m, err := sc.Master(ctx, "mymaster").Result()
			return err == nil && m["num-slaves"] == "1" && m["num-other-sentinels"] == "2"
		})
	}
	url := redistest.SentinelsURL(sentinels)
	prefix := fmt.Sprintf("t%d", prefixSeq.Add(1))
	pubE, _ := startEngine(t, url, prefix)
	subE, rec := startEngine(t, url, prefix)
	keys := []string{"p|f0", "p|f1", "p|f2", "p|f3"}
	const witness = "p|witness" // published only before the kill
	if err := subE.Broker().Subscribe(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	opts := pubsub.PublishOptions{HistorySize: 10000, HistoryTTL: time.Minute}

	log := newPubLog()
	var killed, stop atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; !stop.Load(); n++ {
			key := keys[n%len(keys)]
			if n%5 == 0 && !killed.Load() {
				key = witness
			}
			pos, err := pubE.Broker().Publish(ctx, key, data(n), opts)
			log.record(key, n, pos, err)
			if err != nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	defer func() { stop.Store(true); <-done }()

	within(t, 10*time.Second, "200 publications before the kill", func() bool { return log.count() >= 200 })
	killed.Store(true)
	killAt := time.Now()
	master.Kill()
	within(t, 25*time.Second, "a publish to succeed on the promoted replica", func() bool {
		_, ok := log.firstAckInNewEpoch()
		return ok
	})
	first, _ := log.firstAckInNewEpoch()
	base := log.count()
	within(t, 10*time.Second, "100 publications after the failover", func() bool { return log.count() >= base+100 })
	stop.Store(true)
	<-done
	failover := first.Sub(killAt)
	if failover > 15*time.Second {
		t.Errorf("first publish after the kill succeeded after %s, want at most 15s", failover)
	}

	// What the promoted replica kept of the witness, read raw (not through
	// the engine, which would start its new epoch).
	raw, err := rc.XRange(ctx, pubE.keys.history(witness), "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	wAcked := log.acked[witness]
	kept := map[int]bool{}
	for _, m := range raw {
		off, _ := strconv.Atoi(m.ID[:len(m.ID)-2])
		kept[off] = true
	}
	lost := 0
	for _, a := range wAcked {
		if !kept[int(a.pos.Offset)] {
			lost++
		}
	}
	t.Logf("failover: first publish %s after the SIGKILL; the promoted replica kept %d of the %d acknowledged witness publications (%d lost)",
		failover.Round(time.Millisecond), len(wAcked)-lost, len(wAcked), lost)

	// The witness was written before the failover only: a new epoch, empty.
	wEpoch := wAcked[0].pos.Epoch
	res, err := pubE.Broker().History(ctx, witness, pubsub.HistoryRequest{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Position.Epoch == wEpoch || res.Position.Offset != 0 || len(res.Publications) != 0 {
		t.Errorf("witness after failover: %+v, want a new epoch (was %s) at offset 0", res.Position, wEpoch)
	}

	for _, key := range keys {
		acks := log.acked[key]
		old := acks[0].pos.Epoch
		var newEpoch string
		var prev pubsub.Position
		for i, a := range acks {
			switch {
			case a.pos.Epoch == old && newEpoch == "":
			case newEpoch == "":
				newEpoch = a.pos.Epoch
				if a.pos.Offset != 1 {
					t.Errorf("%s: first publication of the new epoch at offset %d, want 1", key, a.pos.Offset)
				}
			case a.pos.Epoch != newEpoch:
				t.Fatalf("%s: a third epoch %s after %s and %s", key, a.pos.Epoch, old, newEpoch)
			}
			if i > 0 && a.pos.Epoch == prev.Epoch && a.pos.Offset <= prev.Offset {
				t.Errorf("%s: offset %d acknowledged after %d in epoch %s", key, a.pos.Offset, prev.Offset, a.pos.Epoch)
			}
			prev = a.pos
		}
		if newEpoch == "" {
			t.Fatalf("%s: no new epoch after the failover", key)
		}
		// History holds exactly the new epoch's acknowledged publications,
		// plus possibly some whose publish failed, in order.
		res, err := pubE.Broker().History(ctx, key, pubsub.HistoryRequest{Limit: -1})
		if err != nil {
			t.Fatal(err)
		}
		if res.Position.Epoch != newEpoch {
			t.Errorf("%s: history at epoch %s, want %s", key, res.Position.Epoch, newEpoch)
		}
		inHistory := map[uint64]int{}
		for _, p := range res.Publications {
			n := dataN(t, p)
			inHistory[p.Offset] = n
			if !log.failed[key][n] && !ackedIn(acks, n, newEpoch) {
				t.Errorf("%s: history has %d at offset %d, never published in this epoch", key, n, p.Offset)
			}
		}
		for _, a := range acks {
			if a.pos.Epoch == newEpoch && inHistory[a.pos.Offset] != a.n {
				t.Errorf("%s: acknowledged %d at offset %d, history has %d there", key, a.n, a.pos.Offset, inHistory[a.pos.Offset])
			}
		}
	}

	// The subscribing engine reconnected (its hub would now resync from
	// history) and delivers live again.
	within(t, 10*time.Second, "HandleReconnect on the subscriber", func() bool { return rec.reconnectCount() >= 1 })
	within(t, 10*time.Second, "subscriber ready", func() bool { return subE.Health().Readiness() == nil })
	for _, key := range keys {
		before := rec.pubCount(key)
		if _, err := pubE.Broker().Publish(ctx, key, data(-1), opts); err != nil {
			t.Fatal(err)
		}
		within(t, 5*time.Second, "live delivery on "+key, func() bool { return rec.pubCount(key) > before })
	}
}

func ackedIn(acks []ackedPub, n int, epoch string) bool {
	for _, a := range acks {
		if a.n == n && a.pos.Epoch == epoch {
			return true
		}
	}
	return false
}

func containsLine(s, line string) bool {
	for _, l := range splitLines(s) {
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		if l == line {
			return true
		}
	}
	return false
}

// TestPromotedReplicaLostWrites makes the loss TestSentinelFailover could
// not provoke on loopback: the replica is frozen and cut off while the
// master acknowledges (and delivers) publications 11–15, the master dies, and
// the replica, thawed, is promoted (REPLICAOF NO ONE) with 1–10 only. The
// channel must not continue its epoch at offset 11, which a subscriber
// that got the lost 11 would drop as a duplicate: it starts a new epoch,
// for history reads and publishes alike.
func TestPromotedReplicaLostWrites(t *testing.T) {
	t.Parallel()
	master := startServer(t)
	replica := redistest.StartReplica(t, master)
	ctx := t.Context()
	rc := goredis.NewClient(&goredis.Options{Addr: replica.Addr(), Protocol: 2})
	defer rc.Close()
	within(t, 10*time.Second, "replica in sync", func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && containsLine(info, "master_link_status:up")
	})
	prefix := fmt.Sprintf("t%d", prefixSeq.Add(1))
	onMaster, rec := startEngine(t, master.URL(), prefix)
	const key = "p|lost"
	if err := onMaster.Broker().Subscribe(ctx, key); err != nil {
		t.Fatal(err)
	}
	opts := pubsub.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	var epoch string
	for n := 1; n <= 10; n++ {
		pos, err := onMaster.Broker().Publish(ctx, key, data(n), opts)
		if err != nil {
			t.Fatal(err)
		}
		epoch = pos.Epoch
	}
	within(t, 10*time.Second, "1-10 on the replica", func() bool {
		n, err := rc.XLen(ctx, onMaster.keys.history(key)).Result()
		return err == nil && n == 10
	})
	// Frozen, the replica cannot reconnect once the master drops it, so
	// 11-15 stay in the master's backlog. (Killing the master alone loses
	// nothing on loopback: the kernel still delivers what it had sent.)
	replica.Freeze()
	if _, err := master.Do("CLIENT", "KILL", "TYPE", "replica"); err != nil {
		t.Fatal(err)
	}
	for n := 11; n <= 15; n++ {
		if _, err := onMaster.Broker().Publish(ctx, key, data(n), opts); err != nil {
			t.Fatal(err)
		}
	}
	within(t, 10*time.Second, "11-15 delivered", func() bool { return rec.pubCount(key) == 15 })
	master.Kill()
	replica.Thaw()
	if err := rc.ReplicaOf(ctx, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := rc.XLen(ctx, onMaster.keys.history(key)).Result(); err != nil || n != 10 {
		t.Fatalf("the promoted replica holds %d publications (%v), want the 10 it had", n, err)
	}

	onReplica, _ := startEngine(t, replica.URL(), prefix)
	res, err := onReplica.Broker().History(ctx, key, pubsub.HistoryRequest{Limit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Position.Epoch == epoch || res.Position.Offset != 0 || len(res.Publications) != 0 {
		t.Fatalf("history on the promoted replica: %+v with %d publications, want a new epoch (not %s) at offset 0",
			res.Position, len(res.Publications), epoch)
	}
	pos, err := onReplica.Broker().Publish(ctx, key, data(16), opts)
	if err != nil {
		t.Fatal(err)
	}
	if pos != (pubsub.Position{Epoch: res.Position.Epoch, Offset: 1}) {
		t.Fatalf("publish on the promoted replica at %+v, want %s:1", pos, res.Position.Epoch)
	}
	// Later publications stay in that epoch: the meta now carries the new
	// master's replication id.
	if pos, err := onReplica.Broker().Publish(ctx, key, data(17), opts); err != nil || pos.Offset != 2 || pos.Epoch != res.Position.Epoch {
		t.Fatalf("second publish: %+v, %v", pos, err)
	}
}
