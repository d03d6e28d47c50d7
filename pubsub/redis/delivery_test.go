package redis

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// twoEngineTest runs the backplane checks on two engines sharing one
// Redis (plain or Cluster, per url).
func twoEngineTest(t *testing.T, url string) {
	prefix := fmt.Sprintf("two%d", prefixSeq.Add(1))
	a, recA := startEngine(t, url, prefix)
	b, recB := startEngine(t, url, prefix)
	ctx := t.Context()

	keys := []string{"p|one", "p|two", "q|three", "p|four"}
	if err := b.Subscribe(ctx, keys[:3]...); err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	opts := pubsub.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	const n = 50
	for i := 1; i <= n; i++ {
		for _, k := range keys {
			if _, err := a.Publish(ctx, k, data(i), opts); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
	}
	join := &pubsub.ClientInfo{Client: "c1", User: "u1"}
	if err := a.PublishJoin(ctx, "p|one", join); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishLeave(ctx, "p|one", join); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishJoin(ctx, "p|four", join); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[:3] {
		eventually(t, "publications on "+k, func() bool { return recB.pubCount(k) == n })
	}
	if err := a.PublishControl(ctx, []byte("barrier-1")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "control on A", func() bool { return recA.sawControl("barrier-1") })
	eventually(t, "control on B", func() bool { return recB.sawControl("barrier-1") })
	eventually(t, "join and leave on B", func() bool {
		recB.mu.Lock()
		defer recB.mu.Unlock()
		return len(recB.leaves["p|one"]) == 1
	})

	recB.mu.Lock()
	for _, k := range keys[:3] {
		want := make([]uint64, n)
		for i := range want {
			want[i] = uint64(i + 1)
		}
		if got := offsets(recB.pubs[k]); !slices.Equal(got, want) {
			t.Errorf("%s: offsets %v", k, got)
		}
		if p := recB.pubs[k][0]; p.Epoch == "" || string(p.Data) != string(data(1)) {
			t.Errorf("%s: first publication %+v", k, p)
		}
	}
	if len(recB.pubs["p|four"]) != 0 || len(recB.joins["p|four"]) != 0 {
		t.Errorf("B got %d publications and %v joins for a key it did not subscribe", len(recB.pubs["p|four"]), recB.joins["p|four"])
	}
	if !slices.Equal(recB.joins["p|one"], []string{"c1"}) {
		t.Errorf("joins on B: %v", recB.joins["p|one"])
	}
	recB.mu.Unlock()
	if len(recA.pubs) != 0 {
		t.Errorf("A subscribed nothing but got %d keys", len(recA.pubs))
	}
	if recB.overlap.Load() {
		t.Error("handler calls for one key overlapped")
	}

	// After Unsubscribe nothing more arrives for that key; control goes
	// over the same connection on plain Redis, so it is a barrier there.
	if err := b.Unsubscribe(ctx, "p|one"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, "p|one", data(99), opts); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, "p|two", data(99), opts); err != nil {
		t.Fatal(err)
	}
	eventually(t, "publication after unsubscribing another key", func() bool { return recB.pubCount("p|two") == n+1 })
	if got := recB.pubCount("p|one"); got != n {
		t.Errorf("after Unsubscribe B got %d publications, want %d", got, n)
	}
	if got := recB.reconnectCount(); got != 0 {
		t.Errorf("HandleReconnect called %d times without an outage", got)
	}
}

func TestTwoEngines(t *testing.T) {
	t.Parallel()
	twoEngineTest(t, startServer(t).URL())
}

// TestManyKeysOneConnection subscribes a thousand keys in one call: they
// share the pub/sub connection.
func TestManyKeysOneConnection(t *testing.T) {
	t.Parallel()
	srv := startServer(t)
	e, rec := startEngine(t, srv.URL(), "")
	ctx := t.Context()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("p|k%d", i)
	}
	if err := e.Subscribe(ctx, keys...); err != nil {
		t.Fatal(err)
	}
	clients, err := e.rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	var subConns int
	for _, line := range splitLines(clients) {
		if containsField(line, "sub=") && !containsField(line, "sub=0") {
			subConns++
		}
	}
	if subConns != 1 {
		t.Errorf("%d pub/sub connections, want 1:\n%s", subConns, clients)
	}
	for _, k := range []string{keys[0], keys[999]} {
		if _, err := e.Publish(ctx, k, data(1), pubsub.PublishOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "delivery", func() bool { return rec.pubCount(keys[0]) == 1 && rec.pubCount(keys[999]) == 1 })
}

// TestUnixSocket reaches Redis over a unix socket URL.
func TestUnixSocket(t *testing.T) {
	t.Parallel()
	sock := t.TempDir() + "/redis.sock"
	startServerArgs(t, "--unixsocket", sock, "--unixsocketperm", "700")
	e, rec := startEngine(t, "unix://"+sock+"?db=1", "")
	ctx := t.Context()
	if err := e.Subscribe(ctx, "p|u"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Publish(ctx, "p|u", data(1), pubsub.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery over the socket", func() bool { return rec.pubCount("p|u") == 1 })
}
