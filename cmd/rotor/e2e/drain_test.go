package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// drainClients is how many SSE clients read while a node drains.
const drainClients = 20

// collector records what one client's streams delivered, across
// reconnects. Its run method is the only writer while a stream is open.
type collector struct {
	mu      sync.Mutex
	offsets []uint64 // offsets of every pub, in arrival order
	subs    []subData
	lastID  string // id of the last sub or pub event
	disc    *disconnectData
	err     error
}

// run reads s until it ends, recording events; a disconnect event ends
// the reading too (the server closes the stream after it).
func (c *collector) run(s *sseStream) {
	for ev := range s.events {
		if ev.Event == ":" {
			continue
		}
		c.mu.Lock()
		err := c.record(ev)
		if err != nil && c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
}

func (c *collector) record(ev event) error {
	switch ev.Event {
	case "sub":
		var d subData
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
			return fmt.Errorf("sub %s: %w", ev.Data, err)
		}
		c.subs = append(c.subs, d)
		c.lastID = ev.ID
	case "pub":
		var d pubData
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
			return fmt.Errorf("pub %s: %w", ev.Data, err)
		}
		c.offsets = append(c.offsets, d.Offset)
		c.lastID = ev.ID
	case "disconnect":
		var d disconnectData
		if err := json.Unmarshal([]byte(ev.Data), &d); err != nil {
			return fmt.Errorf("disconnect %s: %w", ev.Data, err)
		}
		c.disc = &d
	default:
		return fmt.Errorf("unexpected event %q: %s", ev.Event, ev.Data)
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.offsets)
}

func (c *collector) last() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.offsets) == 0 {
		return 0
	}
	return c.offsets[len(c.offsets)-1]
}

// publisher publishes numbered messages to one channel until stopped or
// until a publication fails.
type publisher struct {
	acked atomic.Uint64 // highest acknowledged offset
	err   error         // the failure that stopped it, read after done
	done  chan struct{}
	stop  context.CancelFunc
}

func startPublisher(t *testing.T, c *http.Client, base, channel string) *publisher {
	ctx, stop := context.WithCancel(t.Context())
	p := &publisher{done: make(chan struct{}), stop: stop}
	go func() {
		defer close(p.done)
		for n := 1; ctx.Err() == nil; n++ {
			// Not ctx: a publication in flight is answered, not cut, so
			// none can land after the publication that marks the end.
			off, err := publish(t.Context(), c, base, channel, map[string]int{"n": n})
			if err != nil {
				if ctx.Err() == nil {
					p.err = err
				}
				return
			}
			p.acked.Store(off)
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { stop(); <-p.done })
	return p
}

// halt stops the publisher once the publication in flight is answered
// and returns the last acknowledged offset.
func (p *publisher) halt() uint64 {
	p.stop()
	<-p.done
	return p.acked.Load()
}

// openCollectors opens one stream per collector on base (resuming from
// each collector's last id when resume is set) and starts reading them;
// the returned group ends when every stream has ended.
func openCollectors(t *testing.T, c *http.Client, base, channel string, cs []*collector, resume bool) *sync.WaitGroup {
	t.Helper()
	var wg sync.WaitGroup
	for i, col := range cs {
		last := ""
		if resume {
			col.mu.Lock()
			last, col.disc = col.lastID, nil
			col.mu.Unlock()
		}
		s := openSSE(t, c, streamURL(base, "sse", fmt.Sprintf("drain%d", i), t, channel), last)
		wg.Go(func() { col.run(s) })
	}
	return &wg
}

// waitGroup waits for wg or fails the test after timeout.
func waitGroup(t *testing.T, wg *sync.WaitGroup, timeout time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("%s: not done after %s", what, timeout)
	}
}

// checkShutdownDisconnect checks that every client got disconnect 3001
// with reconnect, in order and with no gap up to then.
func checkShutdownDisconnect(t *testing.T, cs []*collector) {
	t.Helper()
	for i, c := range cs {
		c.mu.Lock()
		if c.err != nil {
			t.Errorf("client %d: %v", i, c.err)
		}
		if c.disc == nil || c.disc.Code != 3001 || !c.disc.Reconnect {
			t.Errorf("client %d: disconnect %+v, want code 3001 with reconnect", i, c.disc)
		}
		c.mu.Unlock()
	}
}

// checkInOrder checks that client i got offsets first..last exactly once,
// in order.
func checkInOrder(t *testing.T, i int, c *collector, first, last uint64) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	want := first
	for _, off := range c.offsets {
		if off != want {
			t.Errorf("client %d: got offset %d where %d was due (a gap, a duplicate or a reordering)", i, off, want)
			return
		}
		want++
	}
	if want != last+1 {
		t.Errorf("client %d: offsets end at %d, want %d", i, want-1, last)
	}
}

// TestDrainMemoryRestart: SIGTERM during traffic with the memory engine.
// Every client gets 3001; the same node restarted on the same port has
// lost its history, so resuming clients get sub with recovered:false
// (the memory engine's documented behaviour, docs/protocol.md,
// Delivery guarantee, and docs/deploy.md) and then live
// messages of the new epoch.
func TestDrainMemoryRestart(t *testing.T) {
	t.Parallel()
	const channel = "drain-memory"
	srv := startServer(t, serverConfig{ShutdownTimeout: 5 * time.Second})
	cs := make([]*collector, drainClients)
	for i := range cs {
		cs[i] = &collector{}
	}
	readers := openCollectors(t, srv.client, srv.base, channel, cs, false)
	pub := startPublisher(t, srv.client, srv.base, channel)
	for i, c := range cs {
		eventually(t, 20*time.Second, fmt.Sprintf("client %d receives traffic", i), func() bool { return c.count() >= 10 })
	}

	// A long poll waiting on a quiet channel when SIGTERM comes is
	// answered with the disconnect, not cut.
	pollURL := streamURL(srv.base, "poll", "poller", t, "drain-quiet")
	first := poll(t, srv.client, pollURL, 0)
	// The answered poll's stream stays parked for the client's next poll
	// for a while (docs/protocol.md, Long poll); once it is let go, an
	// open stream more than the SSE clients' is the pending poll.
	eventually(t, 10*time.Second, "the first poll's parked stream is let go", func() bool {
		return metricSum(t, scrape(t, srv), "rotor_streams") == drainClients
	})
	polled := make(chan pollReply, 1)
	pollFailed := make(chan error, 1)
	go func() {
		r, err := pollErr(t.Context(), srv.client, pollURL+"&timeout=60&since="+first.ID, 0)
		if err != nil {
			pollFailed <- err
			return
		}
		polled <- r
	}()
	eventually(t, 10*time.Second, "the long poll is pending", func() bool {
		return metricSum(t, scrape(t, srv), "rotor_streams") == drainClients+1
	})

	exited := srv.terminate()
	waitGroup(t, readers, 15*time.Second, "streams end after SIGTERM")
	select {
	case r := <-polled:
		if len(r.Events) != 1 || r.Events[0].Event != "disconnect" {
			t.Errorf("pending poll at SIGTERM answered %+v, want one disconnect event", r)
		} else {
			var d disconnectData
			if err := json.Unmarshal(r.Events[0].Data, &d); err != nil || d.Code != 3001 || !d.Reconnect {
				t.Errorf("pending poll at SIGTERM: disconnect %s, want code 3001 with reconnect", r.Events[0].Data)
			}
		}
	case err := <-pollFailed:
		t.Errorf("pending poll at SIGTERM: %v", err)
	case <-time.After(15 * time.Second):
		t.Error("pending poll not answered after SIGTERM")
	}
	srv.waitExit(exited)
	pub.halt()
	checkShutdownDisconnect(t, cs)
	for i, c := range cs {
		checkInOrder(t, i, c, 1, c.last())
	}
	if t.Failed() {
		t.FailNow()
	}

	srv.restart()
	var epochBefore string
	cs[0].mu.Lock()
	epochBefore = cs[0].subs[0].Epoch
	cs[0].mu.Unlock()
	openCollectors(t, srv.client, srv.base, channel, cs, true)
	for i, c := range cs {
		eventually(t, 10*time.Second, fmt.Sprintf("client %d gets sub after resume", i), func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return len(c.subs) == 2
		})
		c.mu.Lock()
		sub := c.subs[1]
		c.mu.Unlock()
		if sub.Recovered || sub.Epoch == epochBefore {
			t.Errorf("client %d: sub %+v after the memory engine restarted, want recovered:false and a new epoch (was %s)", i, sub, epochBefore)
		}
	}
	off := mustPublish(t, srv.client, srv.base, channel, "after restart")
	for i, c := range cs {
		eventually(t, 10*time.Second, fmt.Sprintf("client %d gets the new epoch's publication", i), func() bool { return c.last() == off })
	}
}

// TestDrainRedisFailover: two nodes on one Redis. While a publisher keeps
// publishing through node B, node A gets SIGTERM; its clients get 3001,
// resume on B with Last-Event-ID, and end up with every publication once
// and in order.
func TestDrainRedisFailover(t *testing.T) {
	t.Parallel()
	const channel = "drain-redis"
	rs := redistest.Start(t)
	a := startServer(t, serverConfig{RedisURL: rs.URL(), ShutdownTimeout: 5 * time.Second})
	b := startServer(t, serverConfig{RedisURL: rs.URL(), ShutdownTimeout: 5 * time.Second})
	cs := make([]*collector, drainClients)
	for i := range cs {
		cs[i] = &collector{}
	}
	readers := openCollectors(t, a.client, a.base, channel, cs, false)
	for i, c := range cs {
		eventually(t, 10*time.Second, fmt.Sprintf("client %d subscribed", i), func() bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			return len(c.subs) == 1
		})
	}
	pub := startPublisher(t, b.client, b.base, channel)
	for i, c := range cs {
		eventually(t, 20*time.Second, fmt.Sprintf("client %d receives traffic", i), func() bool { return c.count() >= 10 })
	}

	exited := a.terminate()
	waitGroup(t, readers, 15*time.Second, "streams on A end after SIGTERM")
	checkShutdownDisconnect(t, cs)
	if t.Failed() {
		t.FailNow()
	}
	openCollectors(t, b.client, b.base, channel, cs, true)
	a.waitExit(exited)
	// Traffic keeps flowing to the resumed streams for a while.
	atResume := pub.acked.Load()
	eventually(t, 20*time.Second, "publications after the resume", func() bool { return pub.acked.Load() >= atResume+50 })
	pub.halt()
	if pub.err != nil {
		t.Fatalf("publishing through B: %v", pub.err)
	}
	// One more publication, waited for, marks the end.
	last := mustPublish(t, b.client, b.base, channel, "last")
	for i, c := range cs {
		eventually(t, 20*time.Second, fmt.Sprintf("client %d catches up to offset %d", i, last), func() bool { return c.last() >= last })
		checkInOrder(t, i, c, 1, last)
		c.mu.Lock()
		if len(c.subs) != 2 || !c.subs[1].Recovered {
			t.Errorf("client %d: subs %+v, want a second sub with recovered:true", i, c.subs)
		}
		c.mu.Unlock()
	}
}

// TestDrainStalledClient: a client that stops reading (its socket buffers
// full) must not hold the node past http.shutdown_timeout; a healthy
// client on the same node still gets its 3001.
func TestDrainStalledClient(t *testing.T) {
	t.Parallel()
	const channel = "drain-stalled"
	// A queue big enough that the stalled stream is not cut as a slow
	// consumer before SIGTERM: its writer is blocked on a full socket.
	srv := startServer(t, serverConfig{ShutdownTimeout: 2 * time.Second, QueueBytes: 64 << 20})

	// The stalled client: a raw connection that sends its request and
	// never reads a byte.
	u, err := url.Parse(streamURL(srv.base, "sse", "stalled", t, channel))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", srv.cfg.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096) // fill up sooner
	}
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", u.RequestURI(), srv.cfg.Addr); err != nil {
		t.Fatal(err)
	}

	healthy := &collector{}
	readers := openCollectors(t, srv.client, srv.base, channel, []*collector{healthy}, false)
	eventually(t, 10*time.Second, "both streams open", func() bool {
		return metricSum(t, scrape(t, srv), "rotor_streams") == 2
	})
	// 16 MB of publications: more than the stalled socket's buffers hold
	// (a few MB on loopback), so its writer blocks.
	const pubs = 320
	big := strings.Repeat("x", 50_000)
	for range pubs {
		mustPublish(t, srv.client, srv.base, channel, big)
	}
	eventually(t, 30*time.Second, "the healthy client reads everything", func() bool { return healthy.count() == pubs })

	f := scrape(t, srv)
	t.Logf("at SIGTERM: %v streams open, %v cut as slow", metricSum(t, f, "rotor_streams"), metricSum(t, f, "rotor_slow_disconnects_total"))
	exited := srv.terminate()
	waitGroup(t, readers, 15*time.Second, "the healthy stream ends after SIGTERM")
	select {
	case <-exited:
	case <-time.After(2*time.Second + 5*time.Second):
		t.Fatalf("rotor still running 5s after its 2s shutdown_timeout with a stalled client\n%s", srv.logs)
	}
	srv.waitExit(exited)
	checkShutdownDisconnect(t, []*collector{healthy})
}
