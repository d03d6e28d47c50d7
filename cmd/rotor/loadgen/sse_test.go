package loadgen

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSSEReader(t *testing.T) {
	t.Parallel()
	const stream = "retry: 2000\n\n" +
		"id: e:0\nevent: sub\ndata: {\"channel\":\"a\",\"offset\":0}\n\n" +
		": ping\n\n" +
		"id: e:1\r\nevent: pub\r\ndata: {\"channel\":\"a\",\r\ndata: \"offset\":1}\r\n\r\n" +
		"event: nodata\n\n" +
		"data:no-space\n\n" +
		":comment\nevent: pub\ndata: x\n\n"
	type want struct{ id, name, data string }
	wants := []want{
		{"e:0", "sub", `{"channel":"a","offset":0}`},
		{"e:1", "pub", "{\"channel\":\"a\",\n\"offset\":1}"},
		{"e:1", "", "no-space"},
		{"e:1", "pub", "x"},
	}
	readers := []struct {
		name string
		r    func() io.Reader
		size int
	}{
		{"whole", func() io.Reader { return strings.NewReader(stream) }, 4096},
		{"one byte reads", func() io.Reader { return iotest.OneByteReader(strings.NewReader(stream)) }, 4096},
		{"half reads", func() io.Reader { return iotest.HalfReader(strings.NewReader(stream)) }, 4096},
		{"lines longer than the buffer", func() io.Reader { return strings.NewReader(stream) }, 16},
	}
	for _, rd := range readers {
		t.Run(rd.name, func(t *testing.T) {
			t.Parallel()
			p := newSSEReader(bufio.NewReaderSize(rd.r(), rd.size))
			for i, w := range wants {
				ev, err := p.next()
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if string(ev.ID) != w.id || string(ev.Name) != w.name || string(ev.Data) != w.data {
					t.Fatalf("event %d = {%q %q %q}, want %+v", i, ev.ID, ev.Name, ev.Data, w)
				}
			}
			if _, err := p.next(); !errors.Is(err, io.EOF) {
				t.Fatalf("after the last event: %v, want EOF", err)
			}
			if p.comments != 2 {
				t.Fatalf("comments = %d, want 2", p.comments)
			}
		})
	}
}

func TestSSEReaderNoAllocs(t *testing.T) {
	frame := "id: e:7\nevent: pub\ndata: {\"channel\":\"c\",\"offset\":7,\"data\":{\"seq\":1,\"ts\":2}}\n\n"
	r := strings.NewReader("")
	br := bufio.NewReaderSize(r, 4096)
	p := newSSEReader(br)
	// Warm the buffers.
	r.Reset(frame)
	br.Reset(r)
	if _, err := p.next(); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(frame)
		br.Reset(r)
		ev, err := p.next()
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := parsePub(ev.Data); !ok {
			t.Fatal("parse")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per event, want 0", allocs)
	}
}
