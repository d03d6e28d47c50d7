package transport

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/memory"
)

// BenchmarkSSEEncodeDelivery measures what a stream writer does per
// delivery once the hub has queued a shared message: dedup by offset,
// rebuild the stream id, frame the event into the write buffer.
func BenchmarkSSEEncodeDelivery(b *testing.B) {
	for _, chans := range []int{1, 3} {
		b.Run(itoa(chans)+"ch", func(b *testing.B) {
			p := testProject("p")
			ns, _ := p.Namespace("")
			n := &Node{}
			state := &streamState{n: n, sink: &sseSink{buf: make([]byte, 0, 64<<10)}}
			for i := range chans {
				state.chans = append(state.chans, streamChan{
					ref: chanRef{project: &p, ns: ns, key: "p|c" + itoa(i)},
					pos: pubsub.Position{Epoch: "k3j9x0ab", Offset: 0},
				})
			}
			msg := &pubsub.Message{Kind: pubsub.EventPub, Key: "p|c0", Epoch: "k3j9x0ab",
				JSON: []byte(`{"channel":"c0","offset":1,"data":{"seq":1,"ts":1767225600000,"text":"0123456789012345678901234567890123456789012345678"}}`)}
			sink := state.sink.(*sseSink)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				msg.Offset = uint64(i + 1)
				if err := state.live(ctx, 0, msg); err != nil {
					b.Fatal(err)
				}
				if len(sink.buf) > 60<<10 {
					sink.buf = sink.buf[:0]
				}
			}
		})
	}
}

// BenchmarkPublishAPIPath measures a publication from the server API's
// point of view without HTTP: resolve the channel, publish on the memory
// engine, fan out to 100 local subscribers.
func BenchmarkPublishAPIPath(b *testing.B) {
	p := testProject("p")
	store, _ := admin.NewStaticStore([]admin.Project{p})
	n, err := New(Options{Engine: memory.New(memory.Options{}), Projects: store})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	proj, _ := store.Project(ctx, "p")
	streams := make([]*pubsub.Stream, 100)
	for i := range streams {
		streams[i], _ = n.hub.Open(ctx, pubsub.StreamOptions{Project: "p", Client: itoa(i)}, []string{"p|news"})
	}
	data := []byte(`{"seq":1,"text":"hello"}`)
	var buf []pubsub.Queued
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, perr := resolve(proj, "news")
		if perr != nil {
			b.Fatal(perr)
		}
		if _, perr := n.publish(ctx, c, data, nil); perr != nil {
			b.Fatal(perr)
		}
		for _, s := range streams {
			buf, _, _ = s.Take(buf)
		}
	}
}

// BenchmarkAPIPublishHandler runs POST /api/publish through the router
// and the RequestID middleware, without the network: the server-side work
// of one publication besides its system calls.
func BenchmarkAPIPublishHandler(b *testing.B) {
	p := testProject("p")
	store, _ := admin.NewStaticStore([]admin.Project{p})
	n, err := New(Options{Engine: memory.New(memory.Options{}), Projects: store})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(RequestID)
	n.Routes(r)
	body := []byte(`{"channel":"news","data":{"seq":1,"ts":1767225600000000000,"pad":"0123456789012345678901234567890123456789012345678901234"}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest(http.MethodPost, "/api/publish", bytes.NewReader(body))
		req.Header.Set("Authorization", "apikey p-api-key")
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
