package transport

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkPollKeepAlive polls over one kept-alive loopback connection,
// as a long-poll client does between two messages: a poll with since
// and timeout=0 (answered at once, no events), over and over, after one
// poll that waited (so the connection is the one a waiting poller has).
// It measures the whole request: read, parse, handler, answer, write.
func BenchmarkPollKeepAlive(b *testing.B) {
	s := startServer(b)
	c, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	base := "/connection/p/poll?" + q("token", s.token("u"), "channel", "small:x")
	poll := func(query string) pollReply {
		if _, err := io.WriteString(c, "GET "+base+query+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		var r pollReply
		if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != 200 {
			b.Fatalf("poll: %d %q", resp.StatusCode, body)
		}
		return r
	}
	first := poll("")
	go func() {
		time.Sleep(50 * time.Millisecond)
		s.publish("small:x", map[string]int{"n": 1})
	}()
	id := poll("&timeout=30&since=" + first.ID).ID
	query := "&timeout=0&since=" + id
	b.ReportAllocs()
	for b.Loop() {
		poll(query)
	}
}
