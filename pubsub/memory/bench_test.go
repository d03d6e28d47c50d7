package memory

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// nopHandler accepts everything, as a hub that does no work would.
type nopHandler struct{}

func (nopHandler) HandlePublication(string, *pubsub.Publication) {}
func (nopHandler) HandleJoin(string, *pubsub.ClientInfo)         {}
func (nopHandler) HandleLeave(string, *pubsub.ClientInfo)        {}
func (nopHandler) HandleControl([]byte)                          {}
func (nopHandler) HandleReconnect()                              {}

func startedEngine(b *testing.B) (*Engine, context.Context) {
	b.Helper()
	e := New(Options{})
	ctx := b.Context()
	if err := e.Start(ctx, nopHandler{}); err != nil {
		b.Fatal(err)
	}
	return e, ctx
}

var benchOpts = pubsub.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}

// BenchmarkPublish publishes to one key with a history of 100.
func BenchmarkPublish(b *testing.B) {
	e, ctx := startedEngine(b)
	data := json.RawMessage(`{"price":42}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Publish(ctx, "p|ticker", data, benchOpts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishParallel publishes from every P, each to its own keys.
func BenchmarkPublishParallel(b *testing.B) {
	e, ctx := startedEngine(b)
	data := json.RawMessage(`{"price":42}`)
	const keysPerP = 64
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		base := next.Add(1) * keysPerP
		keys := make([]string, keysPerP)
		for i := range keys {
			keys[i] = "p|ch" + strconv.FormatInt(base+int64(i), 10)
		}
		i := 0
		for pb.Next() {
			if _, err := e.Publish(ctx, keys[i%keysPerP], data, benchOpts); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkHistory reads the newest 10 of 100.
func BenchmarkHistory(b *testing.B) {
	e, ctx := startedEngine(b)
	for range 100 {
		if _, err := e.Publish(ctx, "p|ticker", json.RawMessage(`1`), benchOpts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.History(ctx, "p|ticker", pubsub.HistoryRequest{Limit: 10}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishIdempotent is BenchmarkPublish with a new idempotency
// key on every publication, the cost a retrying publisher adds.
func BenchmarkPublishIdempotent(b *testing.B) {
	e, ctx := startedEngine(b)
	data := json.RawMessage(`{"price":42}`)
	opts := benchOpts
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		opts.IdempotencyKey = "key-" + strconv.Itoa(i)
		if _, err := e.Publish(ctx, "p|ticker", data, opts); err != nil {
			b.Fatal(err)
		}
	}
}
