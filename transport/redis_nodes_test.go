package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/redis"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Node-level tests of the Redis engine (docs/scaling.md): several nodes, each with its own Redis
// engine on one shared Redis (or Cluster), behave as one server.

// roomNS is the namespace of the node tests: presence on, join/leave off
// (1,000 subscribers would otherwise get a million join events), and a
// history long enough to cover every gap the tests make.
const roomNS = "room"

// nodeProject is testProject("p") plus the room namespace.
func nodeProject() structure.Project {
	p := testProject("p")
	room := structure.DefaultNamespaceSettings(roomNS)
	room.Presence, room.JoinLeave = true, false
	room.HistorySize = 1000
	room.HistoryTTL = 10 * time.Minute
	p.Namespaces = append(p.Namespaces, room)
	return p
}

// startNodes starts n nodes, each with its own Redis engine on url and the
// same static project store, each on its own httptest server.
func startNodes(t testing.TB, url string, n int) []*testServer {
	t.Helper()
	p := nodeProject()
	store, err := admin.NewStaticStore([]structure.Project{p})
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	nodes := make([]*testServer, n)
	for i := range nodes {
		// Short timeouts so that a dead Redis is noticed in well under
		// a second, as an operator would configure a test deployment.
		e, err := redis.New(redis.Options{
			URL: url, NodeID: fmt.Sprintf("node%d", i), Logger: quiet,
			Timeout: 500 * time.Millisecond, PingInterval: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		nd, err := New(Options{
			NodeID: fmt.Sprintf("node%d", i), Delivery: e, Broker: e.Broker(), Presence: e.Presence(), Revoker: e.Revoker(),
			Nodes: e.Directory(), Channels: e.Directory(), Series: e.Directory(), Watcher: e.Watcher(), Projects: store, Logger: quiet,
			Ping: time.Second, LeaveGrace: 200 * time.Millisecond, AdminAPIKey: "admin-key",
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := nd.Start(ctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		r := chi.NewRouter()
		nd.Routes(r)
		srv := httptest.NewServer(r)
		t.Cleanup(func() {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = nd.Shutdown(sctx, nil)
			srv.CloseClientConnections()
			srv.Close()
			cancel()
			_ = e.Close()
		})
		nodes[i] = &testServer{t: t, node: nd, srv: srv, url: srv.URL, p: p, handler: r}
	}
	return nodes
}

// rawSub is one SSE subscriber kept cheap enough to have a thousand: one
// goroutine parses its stream and keeps only what the assertions need.
type rawSub struct {
	name   string
	resp   *http.Response
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	ns     []int    // data.n of every pub event, in arrival order
	subs   []subEv  // every sub event
	disc   *discEv  // the disconnect event, if one came
	lastID string   // id of the last event that had one
	bad    []string // protocol problems seen while parsing
}

type subEv struct {
	Channel   string `json:"channel"`
	Epoch     string `json:"epoch"`
	Offset    uint64 `json:"offset"`
	Recovered bool   `json:"recovered"`
}

type discEv struct {
	Code      int    `json:"code"`
	Reason    string `json:"reason"`
	Reconnect bool   `json:"reconnect"`
}

// sseClient opens streams; it is one transport for a whole test so that
// its connections can be closed at the end.
type sseClient struct {
	t  testing.TB
	hc *http.Client
}

func newSSEClient(t testing.TB) *sseClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &sseClient{t: t, hc: &http.Client{Transport: tr}}
}

// open opens GET /sse on s with query and header; it returns the status
// and body when the answer is not 200.
func (c *sseClient) open(s *testServer, name, query string, header http.Header) (*rawSub, int, string) {
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/connection/p/sse?"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		return nil, 0, err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, string(b)
	}
	rs := &rawSub{name: name, resp: resp, cancel: cancel, done: make(chan struct{})}
	go rs.read()
	c.t.Cleanup(rs.close)
	return rs, http.StatusOK, ""
}

// mustOpen is open that fails the test unless the stream opens.
func (c *sseClient) mustOpen(s *testServer, name, query string, header http.Header) *rawSub {
	c.t.Helper()
	rs, st, body := c.open(s, name, query, header)
	if rs == nil {
		c.t.Fatalf("open %s: status %d: %s", name, st, body)
	}
	return rs
}

func (rs *rawSub) close() {
	rs.cancel()
	rs.resp.Body.Close()
	<-rs.done
}

func (rs *rawSub) read() {
	defer close(rs.done)
	br := bufio.NewReaderSize(rs.resp.Body, 4096)
	var id, event string
	var data []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0:
			if event != "" {
				rs.handle(id, event, data)
			}
			id, event, data = "", "", data[:0]
		case line[0] == ':':
		case bytes.HasPrefix(line, []byte("id: ")):
			id = string(line[4:])
		case bytes.HasPrefix(line, []byte("event: ")):
			event = string(line[7:])
		case bytes.HasPrefix(line, []byte("data: ")):
			data = append(data, line[6:]...)
		}
	}
}

func (rs *rawSub) handle(id, event string, data []byte) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if id != "" {
		rs.lastID = id
	}
	switch event {
	case "pub":
		var p pubData
		if err := json.Unmarshal(data, &p); err != nil {
			rs.bad = append(rs.bad, fmt.Sprintf("pub %q: %v", data, err))
			return
		}
		rs.ns = append(rs.ns, p.Data.N)
	case "sub":
		var s subEv
		if err := json.Unmarshal(data, &s); err != nil {
			rs.bad = append(rs.bad, fmt.Sprintf("sub %q: %v", data, err))
			return
		}
		rs.subs = append(rs.subs, s)
	case "disconnect":
		var d discEv
		if err := json.Unmarshal(data, &d); err != nil {
			rs.bad = append(rs.bad, fmt.Sprintf("disconnect %q: %v", data, err))
			return
		}
		rs.disc = &d
	}
}

// state returns copies of what the subscriber got so far.
func (rs *rawSub) state() (ns []int, subs []subEv, disc *discEv, bad []string) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]int(nil), rs.ns...), append([]subEv(nil), rs.subs...), rs.disc, append([]string(nil), rs.bad...)
}

func (rs *rawSub) lastEventID() string {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.lastID
}

// waitSubs waits up to 10s until every subscriber has at least n pubs and
// one sub event.
func waitSubs(t *testing.T, subs []*rawSub, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("every subscriber to get %d publications", n), func() bool {
		for _, rs := range subs {
			rs.mu.Lock()
			ok := len(rs.ns) >= n && len(rs.subs) > 0
			rs.mu.Unlock()
			if !ok {
				return false
			}
		}
		return true
	})
}

// checkExactly fails unless every subscriber got want, exactly, in order.
func checkExactly(t *testing.T, subs []*rawSub, want []int) {
	t.Helper()
	failed := 0
	for _, rs := range subs {
		ns, _, _, bad := rs.state()
		if len(bad) > 0 {
			t.Errorf("%s: %v", rs.name, bad)
		}
		if !equalInts(ns, want) {
			failed++
			if failed <= 3 {
				t.Errorf("%s got %d publications %v, want %d in order", rs.name, len(ns), short(ns), len(want))
			}
		}
	}
	if failed > 3 {
		t.Errorf("... and %d more subscribers got the wrong publications", failed-3)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func short(ns []int) []int {
	if len(ns) > 20 {
		return ns[:20]
	}
	return ns
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from+1)
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// openMany opens count token-form streams to channel, alternating over
// nodes, with a few openers at a time; users are prefix0, prefix1, ...
func openMany(t *testing.T, c *sseClient, nodes []*testServer, channel, prefix string, count int) []*rawSub {
	t.Helper()
	subs := make([]*rawSub, count)
	errs := make(chan string, count)
	work := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range work {
				s := nodes[i%len(nodes)]
				user := fmt.Sprintf("%s%d", prefix, i)
				rs, st, body := c.open(s, user, q("token", s.token(user), "channel", channel), nil)
				if rs == nil {
					errs <- fmt.Sprintf("open %s: status %d: %s", user, st, body)
					continue
				}
				subs[i] = rs
			}
		})
	}
	for i := range count {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	return subs
}

// publishSeq publishes {"n": i} for i in [from, to] on s through the API.
func publishSeq(s *testServer, channel string, from, to int) {
	for i := from; i <= to; i++ {
		s.publish(channel, map[string]int{"n": i})
	}
}

// apiTry calls the server API and returns the status and the error code
// (0 for none) without failing.
func apiTry(s *testServer, method string, body any) (int, int, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/"+method, bytes.NewReader(b))
	req.Header.Set("Authorization", "apikey p-api-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Error *wireError `json:"error"`
	}
	rb, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(rb, &out); err != nil {
		return resp.StatusCode, 0, fmt.Errorf("decode %q: %w", rb, err)
	}
	if out.Error != nil {
		return resp.StatusCode, out.Error.Code, nil
	}
	return resp.StatusCode, 0, nil
}

// engineReady asks a node's engine whether it can serve (what /readyz
// asks in cmd/rotor).
func engineReady(s *testServer) error {
	e, ok := s.node.opts.Delivery.(*redis.Engine)
	if !ok {
		return fmt.Errorf("engine %T is not the Redis engine", s.node.opts.Delivery)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return e.Health().Ready(ctx)
}

// TestRedisNodesAsOne: three nodes on one Redis are one server — delivery
// of publications made on A to a thousand subscribers on B and C, presence
// seen alike from every node, and a revoked session refused everywhere.
func TestRedisNodesAsOne(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nodes := startNodes(t, rs.URL(), 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	client := newSSEClient(t)
	const channel = roomNS + ":all"
	const subscribers, pubs = 1000, 100

	subs := openMany(t, client, []*testServer{b, c}, channel, "u", subscribers)
	// Every stream has its sub event, so each node has subscribed to the
	// channel in Redis before the first publication.
	waitSubs(t, subs, 0)

	t.Run("delivery", func(t *testing.T) {
		publishSeq(a, channel, 1, pubs)
		waitSubs(t, subs, pubs)
		checkExactly(t, subs, seq(1, pubs))
	})

	t.Run("presence", func(t *testing.T) {
		type stats struct {
			Result struct{ Clients, Users int }
		}
		for _, s := range nodes {
			eventually(t, "presence_stats of "+s.node.opts.NodeID, func() bool {
				var st stats
				s.api("presence_stats", map[string]string{"channel": channel}, &st)
				return st.Result.Clients == subscribers && st.Result.Users == subscribers
			})
		}
		var first map[string]json.RawMessage
		for i, s := range nodes {
			var pr struct {
				Result struct {
					Clients map[string]json.RawMessage `json:"clients"`
				}
			}
			if st := s.api("presence", map[string]string{"channel": channel}, &pr); st != 200 {
				t.Fatalf("presence on node %d: status %d", i, st)
			}
			if len(pr.Result.Clients) != subscribers {
				t.Fatalf("presence on node %d: %d clients, want %d", i, len(pr.Result.Clients), subscribers)
			}
			if i == 0 {
				first = pr.Result.Clients
				continue
			}
			for client, info := range first {
				if !bytes.Equal(pr.Result.Clients[client], info) {
					t.Fatalf("node %d sees client %s as %s, node 0 as %s", i, client, pr.Result.Clients[client], info)
				}
			}
		}
	})

	t.Run("revoked", func(t *testing.T) {
		conn := b.connect(b.token("victim"))
		grant := b.subscribe(conn.Session, channel)
		query := q("session", conn.Session, "grant", grant)
		onB := client.mustOpen(b, "victim@B", query, nil)
		onC := client.mustOpen(c, "victim@C", query, nil)
		waitSubs(t, []*rawSub{onB, onC}, 0)

		var reply struct{ Error *wireError }
		if st := a.api("disconnect", map[string]string{"user": "victim"}, &reply); st != 200 || reply.Error != nil {
			t.Fatalf("disconnect: status %d error %+v", st, reply.Error)
		}
		for _, rs := range []*rawSub{onB, onC} {
			select {
			case <-rs.done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: stream still open after disconnect", rs.name)
			}
			if _, _, d, _ := rs.state(); d == nil || d.Code != pubsub.DisconnectRevoked || d.Reconnect {
				t.Fatalf("%s: disconnect event %+v, want code %d without reconnect", rs.name, d, pubsub.DisconnectRevoked)
			}
		}
		for _, s := range []*testServer{b, c} {
			if st, _, e := s.commandStatus(conn.Session, cmd{Method: "ping"}); st != http.StatusUnauthorized {
				t.Errorf("%s /command with a revoked session: status %d error %+v, want 401", s.node.opts.NodeID, st, e)
			}
			if _, st, body := client.open(s, "victim again", query, nil); st != http.StatusUnauthorized {
				t.Errorf("%s /sse with a revoked session: status %d %s, want 401", s.node.opts.NodeID, st, body)
			}
			if st, pr := s.poll(query + "&timeout=1"); st != http.StatusUnauthorized {
				t.Errorf("%s /poll with a revoked session: status %d %+v, want 401", s.node.opts.NodeID, st, pr)
			}
		}
		// The other thousand streams were not touched.
		for _, rs := range subs[:10] {
			if _, _, d, _ := rs.state(); d != nil {
				t.Fatalf("%s got %+v", rs.name, d)
			}
		}
	})
}

// TestRedisNodesSurviveRedisKill: Redis dies (SIGKILL) under open streams
// and comes back with its data (append-only file): no node crashes, the
// API answers 503 with code 112 at once while it is down, the engine is
// not ready, and afterwards every subscriber has every publication made
// before the kill and after the restart, once and in order — history
// covers what the pub/sub connection missed (docs/protocol.md, Delivery guarantee;
// docs/scaling.md).
func TestRedisNodesSurviveRedisKill(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	nodes := startNodes(t, srv.URL(), 3)
	a := nodes[0]
	client := newSSEClient(t)
	const channel = roomNS + ":kill"
	subs := openMany(t, client, nodes[1:], channel, "k", 100)
	waitSubs(t, subs, 0)
	publishSeq(a, channel, 1, 20)
	waitSubs(t, subs, 20)

	// A long-poll client, caught up at offset 20 before the kill.
	pollQuery := q("token", nodes[1].token("poller"), "channel", channel)
	st, first := nodes[1].poll(pollQuery)
	if st != http.StatusOK || len(first.Events) != 1 || first.Events[0].Event != "sub" {
		t.Fatalf("first poll: status %d %+v", st, first)
	}

	srv.Kill()
	for _, tc := range []struct {
		node   *testServer
		method string
		params map[string]any
	}{
		{a, "publish", map[string]any{"channel": channel, "data": map[string]int{"n": -1}}},
		{nodes[1], "publish", map[string]any{"channel": channel, "data": map[string]int{"n": -1}}},
		{nodes[1], "presence", map[string]any{"channel": channel}},
		{nodes[2], "history", map[string]any{"channel": channel}},
	} {
		start := time.Now()
		st, code, err := apiTry(tc.node, tc.method, tc.params)
		took := time.Since(start)
		if err != nil || st != http.StatusServiceUnavailable || code != pubsub.CodeUnavailable {
			t.Errorf("%s while Redis is down: status %d code %d err %v, want 503 and %d", tc.method, st, code, err, pubsub.CodeUnavailable)
		}
		// A bound on hanging, not a speed assertion: the engine's
		// timeouts are 500ms here.
		if took > 5*time.Second {
			t.Errorf("%s while Redis is down took %v", tc.method, took)
		}
	}
	for i, s := range nodes {
		if err := engineReady(s); err == nil {
			t.Errorf("node %d: engine ready while Redis is down", i)
		}
	}
	// A client whose stream broke while Redis was down comes back later
	// with its last id.
	leaver := subs[0]
	leaverID := leaver.lastEventID()
	leaver.close()
	subs = subs[1:]
	// A new stream needs its channel's position from Redis: answered at
	// once with 200, the retry advice and `disconnect` 3005, so that a
	// browser's EventSource retries by itself; a poll is refused with 503
	// and Retry-After.
	start := time.Now()
	newcomer := client.mustOpen(nodes[1], "newcomer", q("token", nodes[1].token("newcomer"), "channel", channel), nil)
	select {
	case <-newcomer.done:
	case <-time.After(5 * time.Second):
		t.Fatal("new stream while Redis is down: still open")
	}
	if _, evs, d, _ := newcomer.state(); len(evs) != 0 || d == nil || *d != (discEv{Code: 3005, Reason: "engine unavailable", Reconnect: true}) {
		t.Errorf("new stream while Redis is down: sub %+v, disconnect %+v, want only disconnect 3005", evs, d)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("new stream while Redis is down took %v", took)
	}
	if resp, err := http.Get(nodes[1].url + "/connection/p/poll?" + pollQuery + "&timeout=1&since=" + first.ID); err != nil {
		t.Errorf("poll while Redis is down: %v", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("poll while Redis is down: status %d, Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	for _, rs := range subs {
		select {
		case <-rs.done:
			t.Fatalf("%s: stream ended while Redis was down", rs.name)
		default:
		}
	}

	srv.Restart(false)
	for i, s := range nodes {
		eventually(t, fmt.Sprintf("node %d ready again", i), func() bool { return engineReady(s) == nil })
	}
	publishSeq(a, channel, 21, 40)
	back := client.mustOpen(nodes[2], "leaver again", q("token", nodes[2].token("k0"), "channel", channel), http.Header{"Last-Event-ID": {leaverID}})
	waitSubs(t, subs, 40)
	checkExactly(t, subs, seq(1, 40))
	waitSubs(t, []*rawSub{back}, 20)
	checkExactly(t, []*rawSub{back}, seq(21, 40))
	if _, evs, _, _ := back.state(); len(evs) != 1 || !evs[0].Recovered || evs[0].Offset != 20 {
		t.Fatalf("resume across the Redis restart: %+v, want one sub at offset 20 with recovered:true", evs)
	}
	// The poller, polling again with its id on the other node, gets the
	// 20 publications made after the restart, in order.
	var polled []int
	id := first.ID
	for len(polled) < 20 {
		st, r := nodes[2].poll(pollQuery + "&timeout=5&since=" + id)
		if st != http.StatusOK || len(r.Events) == 0 {
			t.Fatalf("poll after the restart: status %d %+v", st, r)
		}
		for _, ev := range r.Events {
			if ev.Event != "pub" {
				t.Fatalf("poll after the restart: unexpected %s %s", ev.Event, ev.Data)
			}
			polled = append(polled, decode[pubData](t, string(ev.Data)).Data.N)
		}
		id = r.ID
	}
	if !equalInts(polled, seq(21, 40)) {
		t.Fatalf("poller got %v, want 21..40", polled)
	}
	for _, rs := range subs {
		_, evs, d, _ := rs.state()
		if d != nil {
			t.Fatalf("%s: %+v", rs.name, d)
		}
		for _, e := range evs {
			if !e.Recovered {
				t.Fatalf("%s: %+v after a restart that kept the data", rs.name, e)
			}
		}
	}
}

// TestRedisNodesSurviveBusyOutage: while Redis is down a node keeps
// being asked for what needs Redis, more calls than its engine has pooled
// connections, so that go-redis stops dialing until a background probe,
// once a second, gets through. When Redis is
// back the node's streams resync from history: they must find it
// readable, keep going, and get every publication, once and in order.
func TestRedisNodesSurviveBusyOutage(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	nodes := startNodes(t, srv.URL(), 2)
	a, b := nodes[0], nodes[1]
	client := newSSEClient(t)
	const channel = roomNS + ":busy"
	subs := openMany(t, client, []*testServer{b}, channel, "b", 20)
	waitSubs(t, subs, 0)
	publishSeq(a, channel, 1, 5)
	waitSubs(t, subs, 5)

	srv.Kill()
	// go-redis pools 10 connections per CPU; every call below fails to
	// dial, and there are twice as many.
	calls := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range calls {
				if st, code, err := apiTry(b, "history", map[string]any{"channel": channel}); err != nil || st != http.StatusServiceUnavailable {
					t.Errorf("history while Redis is down: status %d code %d err %v, want 503", st, code, err)
				}
			}
		})
	}
	for range 2 * 10 * runtime.GOMAXPROCS(0) {
		calls <- struct{}{}
	}
	close(calls)
	wg.Wait()
	srv.Restart(false)
	for i, s := range nodes {
		eventually(t, fmt.Sprintf("node %d ready again", i), func() bool { return engineReady(s) == nil })
	}
	publishSeq(a, channel, 6, 10)
	eventually(t, "every subscriber to get 10 publications or a disconnect", func() bool {
		for _, rs := range subs {
			if ns, _, d, _ := rs.state(); d == nil && len(ns) < 10 {
				return false
			}
		}
		return true
	})
	for _, rs := range subs {
		if _, _, d, _ := rs.state(); d != nil {
			t.Fatalf("%s: stream ended after the restart with %+v", rs.name, d)
		}
	}
	checkExactly(t, subs, seq(1, 10))
}

// TestRedisNodesDataWiped: Redis restarts with no data, and
// publications are made at once, before the nodes may have resubscribed.
// Open streams get a new `sub` with recovered:false at the new epoch's
// position 0, then every publication of the new epoch from its start —
// those the pub/sub connection missed come from history; a client coming
// back with its last id gets the same.
func TestRedisNodesDataWiped(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	nodes := startNodes(t, srv.URL(), 2)
	a, b := nodes[0], nodes[1]
	client := newSSEClient(t)
	const channel = roomNS + ":wiped"
	subs := openMany(t, client, nodes, channel, "w", 20)
	waitSubs(t, subs, 0)
	publishSeq(a, channel, 1, 10)
	waitSubs(t, subs, 10)
	_, first, _, _ := subs[0].state()
	oldEpoch := first[0].Epoch
	// One client goes away and will come back with its last id.
	leaver := client.mustOpen(b, "leaver", q("token", b.token("leaver"), "channel", channel), nil)
	waitSubs(t, []*rawSub{leaver}, 0)
	lastID := leaver.lastEventID()
	leaver.close()

	srv.Restart(true)
	eventually(t, "node A ready again", func() bool { return engineReady(a) == nil })
	publishSeq(a, channel, 11, 15)
	waitSubs(t, subs, 15)
	checkExactly(t, subs, seq(1, 15))
	checkNewEpoch(t, subs, channel, oldEpoch)

	back := client.mustOpen(b, "leaver again", q("token", b.token("leaver"), "channel", channel), http.Header{"Last-Event-ID": {lastID}})
	waitSubs(t, []*rawSub{back}, 5)
	checkExactly(t, []*rawSub{back}, seq(11, 15))
	checkNewEpoch(t, []*rawSub{back}, channel, oldEpoch)
}

// TestRedisNodesFlushAll: FLUSHALL on a live Redis ends every channel's
// epoch while the nodes stay subscribed. The first publication of the new
// epoch a stream sees live tells it so: it reports recovered:false at the
// new epoch's position 0, then delivers the new epoch from offset 1 —
// publications made before it noticed included.
func TestRedisNodesFlushAll(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	nodes := startNodes(t, srv.URL(), 2)
	a := nodes[0]
	client := newSSEClient(t)
	const channel = roomNS + ":flushed"
	subs := openMany(t, client, nodes, channel, "f", 10)
	waitSubs(t, subs, 0)
	publishSeq(a, channel, 1, 5)
	waitSubs(t, subs, 5)
	_, first, _, _ := subs[0].state()
	oldEpoch := first[0].Epoch
	if _, err := srv.Do("FLUSHALL"); err != nil {
		t.Fatal(err)
	}
	publishSeq(a, channel, 6, 12)
	waitSubs(t, subs, 12)
	checkExactly(t, subs, seq(1, 12))
	checkNewEpoch(t, subs, channel, oldEpoch)
}

// checkNewEpoch fails unless every subscriber's last `sub` reports
// recovered:false at position 0 of one epoch other than oldEpoch.
func checkNewEpoch(t *testing.T, subs []*rawSub, channel, oldEpoch string) {
	t.Helper()
	var newEpoch string
	for _, rs := range subs {
		_, evs, _, _ := rs.state()
		e := evs[len(evs)-1]
		if e.Recovered || e.Epoch == oldEpoch || e.Offset != 0 || e.Channel != channel {
			t.Fatalf("%s: sub events %+v, want the last at offset 0 of a new epoch with recovered:false", rs.name, evs)
		}
		if newEpoch == "" {
			newEpoch = e.Epoch
		}
		if e.Epoch != newEpoch {
			t.Fatalf("%s: epoch %s, another stream has %s", rs.name, e.Epoch, newEpoch)
		}
	}
}

// TestRedisClusterNodesAsOne: the delivery and presence parts of
// TestRedisNodesAsOne on a Redis Cluster of three masters (sharded
// pub/sub).
func TestRedisClusterNodesAsOne(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	nodes := startNodes(t, cl.URL(), 3)
	client := newSSEClient(t)
	// Several channels so that they land on different shards.
	const subscribers, pubs = 200, 50
	channels := []string{roomNS + ":c1", roomNS + ":c2", roomNS + ":c3", roomNS + ":c4"}
	all := make(map[string][]*rawSub, len(channels))
	for _, ch := range channels {
		all[ch] = openMany(t, client, nodes[1:], ch, ch+"-u", subscribers/len(channels))
	}
	for _, ch := range channels {
		waitSubs(t, all[ch], 0)
	}
	for _, ch := range channels {
		publishSeq(nodes[0], ch, 1, pubs)
	}
	for _, ch := range channels {
		waitSubs(t, all[ch], pubs)
		checkExactly(t, all[ch], seq(1, pubs))
	}
	for i, s := range nodes {
		eventually(t, fmt.Sprintf("presence_stats on node %d", i), func() bool {
			var st struct{ Result struct{ Clients, Users int } }
			s.api("presence_stats", map[string]string{"channel": channels[0]}, &st)
			return st.Result.Clients == subscribers/len(channels)
		})
	}
}
