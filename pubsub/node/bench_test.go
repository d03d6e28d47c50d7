package node

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// frameSink frames events as text/event-stream does (transport's
// sseSink), so the benchmark below costs what an SSE stream pays.
type frameSink struct{ buf []byte }

func (s *frameSink) Event(kind pubsub.EventKind, id, data []byte) {
	if id != nil {
		s.buf = append(s.buf, "id: "...)
		s.buf = append(s.buf, id...)
		s.buf = append(s.buf, '\n')
	}
	s.buf = append(s.buf, "event: "...)
	s.buf = append(s.buf, kind.String()...)
	s.buf = append(s.buf, '\n')
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		s.buf = append(s.buf, "data: "...)
		s.buf = append(s.buf, data[:i]...)
		s.buf = append(s.buf, '\n')
		data = data[i+1:]
	}
	s.buf = append(s.buf, "data: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, '\n', '\n')
}

// BenchmarkSSEEncodeDelivery measures what a stream writer does per
// delivery once the hub has queued a shared message: dedup by offset,
// rebuild the stream id, frame the event into the write buffer.
func BenchmarkSSEEncodeDelivery(b *testing.B) {
	for _, chans := range []int{1, 3} {
		b.Run(strconv.Itoa(chans)+"ch", func(b *testing.B) {
			p := structure.Project{ID: "p", DefaultNamespace: "default",
				Namespaces: []structure.Namespace{structure.DefaultNamespaceSettings("default")}}
			ns, _ := p.Namespace("")
			sink := &frameSink{buf: make([]byte, 0, 64<<10)}
			st := &Stream{sink: sink}
			for i := range chans {
				st.chans = append(st.chans, streamChan{
					ref: Ref{project: &p, ns: ns, key: "p|c" + strconv.Itoa(i)},
					pos: pubsub.Position{Epoch: "k3j9x0ab", Offset: 0},
				})
			}
			msg := &pubsub.Message{Kind: pubsub.EventPub, Key: "p|c0", Epoch: "k3j9x0ab",
				JSON: []byte(`{"channel":"c0","offset":1,"data":{"seq":1,"ts":1767225600000,"text":"0123456789012345678901234567890123456789012345678"}}`)}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				msg.Offset = uint64(i + 1)
				if err := st.live(ctx, 0, msg); err != nil {
					b.Fatal(err)
				}
				if len(sink.buf) > 60<<10 {
					sink.buf = sink.buf[:0]
				}
			}
		})
	}
}
