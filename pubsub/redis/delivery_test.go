package redis

import (
	"fmt"
	"testing"

	"github.com/rotor-rt/rotor/pubsub"
)

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
	if err := e.Broker().Subscribe(ctx, keys...); err != nil {
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
		if _, err := e.Broker().Publish(ctx, k, data(1), pubsub.PublishOptions{}); err != nil {
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
	if err := e.Broker().Subscribe(ctx, "p|u"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Broker().Publish(ctx, "p|u", data(1), pubsub.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "delivery over the socket", func() bool { return rec.pubCount("p|u") == 1 })
}
