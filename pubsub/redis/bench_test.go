package redis

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// BenchmarkPublish publishes through Redis into a history of 100, with one
// subscribed node receiving. It reports Redis commands per publication
// (from INFO commandstats, leaving out the benchmark's own INFO and
// CONFIG and the subscriber's PINGs).
func BenchmarkPublish(b *testing.B) {
	b.Run("no key", func(b *testing.B) { benchmarkPublish(b, false, false) })
	// A new idempotency key on every publication: one more GET and SET
	// inside the script, no more round trips.
	b.Run("idempotency key", func(b *testing.B) { benchmarkPublish(b, true, false) })
	// The project watched (admin live watch): one more PUBLISH, the
	// forward to the watch topic.
	b.Run("watched", func(b *testing.B) { benchmarkPublish(b, false, true) })
}

func benchmarkPublish(b *testing.B, withKey, watched bool) {
	srv := startServer(b)
	e, _ := startEngine(b, srv.URL(), "bench")
	broker := e.Broker()
	ctx := b.Context()
	if err := broker.Subscribe(ctx, "p|bench"); err != nil {
		b.Fatal(err)
	}
	if watched {
		stop, err := e.Watcher().WatchProject(ctx, "p", func(string, *pubsub.Publication) {})
		if err != nil {
			b.Fatal(err)
		}
		defer stop()
	}
	opts := pubsub.PublishOptions{HistorySize: 100, HistoryTTL: time.Minute}
	payload := data(1)
	if _, err := broker.Publish(ctx, "p|bench", payload, opts); err != nil { // loads the script
		b.Fatal(err)
	}
	if err := e.rdb.ConfigResetStat(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if withKey {
			i++
			opts.IdempotencyKey = "key-" + strconv.Itoa(i)
		}
		if _, err := broker.Publish(ctx, "p|bench", payload, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stats, err := e.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	var calls, scripts int
	for _, line := range strings.Split(stats, "\n") {
		// cmdstat_evalsha:calls=123,usec=...; commands run inside the
		// script are not counted as calls from clients.
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok || name == "cmdstat_config" || name == "cmdstat_info" || name == "cmdstat_ping" {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		c, _ := strconv.Atoi(n)
		calls += c
		if name == "cmdstat_evalsha" || name == "cmdstat_eval" {
			scripts += c
		}
	}
	// Round trips from the client, and commands Redis ran (the script's
	// own commands count there).
	b.ReportMetric(float64(scripts)/float64(b.N), "evalsha/op")
	b.ReportMetric(float64(calls)/float64(b.N), "rediscmds/op")
}
