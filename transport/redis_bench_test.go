package transport

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// BenchmarkRedisFanOut measures the fan-out of one channel to many
// subscribers spread over 2 nodes (B and C) that share one Redis, with
// publications made on a third node (A): Redis script, pub/sub to both
// nodes, the hub's fan-out, and (sse) the SSE write to each client over
// loopback HTTP. It reports ns per delivery: wall time over publications
// times subscribers, with up to fanOutWindow publications in flight.
//
//   - hub: 10,000 hub streams, each drained by its own goroutine as an SSE
//     handler would, without HTTP;
//   - sse: real SSE streams over loopback; 4,000 because client and server
//     share this process, and two sockets per stream must fit the 20,000
//     open files allowed here;
//   - memory-*: the same on one node with the memory engine (publisher and
//     subscribers on it), for comparison.
func BenchmarkRedisFanOut(b *testing.B) {
	b.Run("hub/10000subs", func(b *testing.B) { benchFanOut(b, redisNodes, 10000, openHubCounters) })
	b.Run("sse/4000subs", func(b *testing.B) { benchFanOut(b, redisNodes, 4000, openSSECounters) })
	b.Run("memory-hub/10000subs", func(b *testing.B) { benchFanOut(b, memoryNode, 10000, openHubCounters) })
	b.Run("memory-sse/4000subs", func(b *testing.B) { benchFanOut(b, memoryNode, 4000, openSSECounters) })
}

// redisNodes is a publisher node and two subscriber nodes on one Redis.
func redisNodes(b *testing.B) (*testServer, []*testServer) {
	nodes := startNodes(b, redistest.Start(b).URL(), 3)
	return nodes[0], nodes[1:]
}

// memoryNode is one node with the memory engine, publisher and subscriber.
func memoryNode(b *testing.B) (*testServer, []*testServer) {
	s := startServer(b, func(_ *Options, p *structure.Project) { *p = nodeProject() })
	return s, []*testServer{s}
}

// fanOutWindow bounds publications not yet delivered everywhere, so that
// no queue overflows into a slow-consumer disconnect.
const fanOutWindow = 20

// counterOpener opens count subscribers to channel over nodes, each adding
// 1 to delivered per pub event it receives.
type counterOpener func(b *testing.B, nodes []*testServer, channel string, count int, delivered *atomic.Int64)

func benchFanOut(b *testing.B, start func(*testing.B) (*testServer, []*testServer), subscribers int, open counterOpener) {
	a, subNodes := start(b)
	const channel = roomNS + ":fanout"
	var delivered atomic.Int64
	open(b, subNodes, channel, subscribers, &delivered)
	proj, err := a.node.opts.Projects.Project(context.Background(), "p")
	if err != nil {
		b.Fatal(err)
	}
	ref, perr := node.Resolve(proj, channel)
	if perr != nil {
		b.Fatal(perr)
	}
	data := []byte(`{"seq":1,"ts":1767225600000,"text":"0123456789012345678901234567890123456789"}`)
	ctx := b.Context()
	// One publication first, so both nodes have subscribed in Redis and
	// every subscriber is live before the clock starts.
	if _, perr := a.node.Node().Publish(ctx, ref, data, nil); perr != nil {
		b.Fatal(perr)
	}
	waitDelivered(b, &delivered, int64(subscribers))
	delivered.Store(0)
	published := 0
	b.ResetTimer()
	for b.Loop() {
		for delivered.Load() < int64(published-fanOutWindow)*int64(subscribers) {
			time.Sleep(50 * time.Microsecond)
		}
		if _, perr := a.node.Node().Publish(ctx, ref, data, nil); perr != nil {
			b.Fatal(perr)
		}
		published++
	}
	waitDelivered(b, &delivered, int64(published)*int64(subscribers))
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(int64(published)*int64(subscribers)), "ns/delivery")
	b.ReportMetric(float64(subscribers), "subscribers")
}

// waitDelivered waits until delivered reaches want, or fails after 30s
// without progress.
func waitDelivered(b *testing.B, delivered *atomic.Int64, want int64) {
	b.Helper()
	last, since := delivered.Load(), time.Now()
	for {
		got := delivered.Load()
		if got >= want {
			return
		}
		if got != last {
			last, since = got, time.Now()
		}
		if time.Since(since) > 30*time.Second {
			b.Fatalf("%d of %d deliveries, no progress for 30s", got, want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// openHubCounters opens count hub streams, alternating over nodes, each
// drained by a goroutine that lives until the benchmark ends.
func openHubCounters(b *testing.B, nodes []*testServer, channel string, count int, delivered *atomic.Int64) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	key := pubsub.Key("p", channel)
	for i := range count {
		s := nodes[i%len(nodes)]
		st, err := s.node.Hub().Open(ctx, pubsub.StreamOptions{Project: "p", Client: fmt.Sprintf("c%d", i)}, []string{key})
		if err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			defer st.Close()
			var buf []pubsub.Queued
			for {
				select {
				case <-st.Ready():
					buf, _, _ = st.Take(buf[:0])
					n := 0
					for _, q := range buf {
						if q.Msg.Kind == pubsub.EventPub {
							n++
						}
					}
					delivered.Add(int64(n))
				case <-st.Done():
					return
				case <-ctx.Done():
					return
				}
			}
		})
	}
}

// openSSECounters opens count token-form SSE streams, alternating over
// nodes, each read by a goroutine that counts pub events.
func openSSECounters(b *testing.B, nodes []*testServer, channel string, count int, delivered *atomic.Int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}
	hc := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	b.Cleanup(func() {
		cancel()
		wg.Wait()
		tr.CloseIdleConnections()
	})
	opened := make(chan error, count)
	sem := make(chan struct{}, 32)
	for i := range count {
		s := nodes[i%len(nodes)]
		user := fmt.Sprintf("f%d", i)
		query := q("token", s.token(user), "channel", channel)
		sem <- struct{}{}
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/connection/p/sse?"+query, nil)
			resp, err := hc.Do(req)
			<-sem
			if err == nil && resp.StatusCode != http.StatusOK {
				resp.Body.Close()
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
			if err != nil {
				opened <- fmt.Errorf("open %s: %w", user, err)
				return
			}
			opened <- nil
			defer resp.Body.Close()
			br := bufio.NewReaderSize(resp.Body, 4096)
			pub := []byte("event: pub")
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, pub) {
					delivered.Add(1)
				}
			}
		})
	}
	for range count {
		if err := <-opened; err != nil {
			b.Fatal(err)
		}
	}
}
