package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// readRequestRef is the reference: http.ReadRequest on b, with how many
// bytes it took.
func readRequestRef(b []byte) (*http.Request, int, error) {
	rd := bytes.NewReader(b)
	br := bufio.NewReaderSize(rd, 64<<10)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, 0, err
	}
	return req, len(b) - rd.Len() - br.Buffered(), nil
}

// checkSame fails t unless parseHead's request for b is http.ReadRequest's
// (when parseHead takes b at all).
func checkSame(t *testing.T, b []byte) (n int, ok bool) {
	t.Helper()
	got, n, ok := parseHead(b)
	if !ok {
		return n, false
	}
	want, wantN, err := readRequestRef(b)
	if err != nil {
		t.Fatalf("parseHead took %q, http.ReadRequest says %v", b, err)
	}
	if n != wantN {
		t.Fatalf("parseHead took %d bytes of %q, http.ReadRequest %d", n, b, wantN)
	}
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"Method", got.Method, want.Method},
		{"URL", *got.URL, *want.URL},
		{"Proto", got.Proto, want.Proto},
		{"ProtoMajor", got.ProtoMajor, want.ProtoMajor},
		{"ProtoMinor", got.ProtoMinor, want.ProtoMinor},
		{"Header", got.Header, want.Header},
		{"Body", got.Body, want.Body},
		{"ContentLength", got.ContentLength, want.ContentLength},
		{"TransferEncoding", got.TransferEncoding, want.TransferEncoding},
		{"Close", got.Close, want.Close},
		{"Host", got.Host, want.Host},
		{"Trailer", got.Trailer, want.Trailer},
		{"RequestURI", got.RequestURI, want.RequestURI},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Fatalf("%q: %s %#v, http.ReadRequest %#v", b, f.name, f.got, f.want)
		}
	}
	return n, true
}

const pollHead = "GET /connection/bench/poll?token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwb2xsZXIifQ.c2lnbmF0dXJl&channel=ch&timeout=25&since=0-abc HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n"

// TestParseHead: the heads parseHead takes give what http.ReadRequest
// gives; the others (left to http.ReadRequest) are the ones outside the
// plain subset.
func TestParseHead(t *testing.T) {
	tests := []struct {
		name, head string
		ok         bool
	}{
		{"poll", pollHead, true},
		{"no header", "GET / HTTP/1.1\r\n\r\n", true},
		{"browser", "GET /connection/p/poll?channel=a%3Ab HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nUser-Agent: Mozilla/5.0 (X11)\r\nAccept: */*\r\nOrigin: http://x\r\nSec-Fetch-Site: same-origin\r\nAccept-Language: en-US,en;q=0.9\r\nCookie: rotor_session=abc\r\n\r\n", true},
		{"Connection: close", get("/a", "Connection: close\r\n"), true},
		{"close in a list, upper case", get("/a", "Connection: keep-alive, CLOSE\r\n"), true},
		{"close look-alike", get("/a", "Connection: clo\u017fe\r\n"), true},
		{"lower-case names", "GET /a HTTP/1.1\r\nhost: x\r\nx-request-id: abc\r\nsec-fetch-site: cross-site\r\n\r\n", true},
		{"repeated name", get("/a", "Accept: a\r\nAccept: b\r\naccept: c\r\n"), true},
		{"Pragma: no-cache", get("/a", "Pragma: no-cache\r\n"), true},
		{"Pragma with Cache-Control", get("/a", "Pragma: no-cache\r\nCache-Control: max-age=1\r\n"), true},
		{"spaces around a value", get("/a", "X-A: \t v w \t\r\nX-B:\r\nX-C:   \r\n"), true},
		{"obs-text", get("/a", "X-A: \xff\xfe\r\n"), true},
		{"bare ?", get("/a?"), true},
		{"two ?", get("/a??"), true},
		{"escaped path", get("/a%20b/%2F?x=%20"), true},
		{"path bytes kept raw", get("/a!b'(c)*"), true},
		{"non-ASCII path", get("/\xc3\xa9"), true},
		{"fragment", get("/a#b?c#d"), true},
		{"double slash", get("//x/y"), true},
		{"other method", "DELETE /a HTTP/1.1\r\nHost: x\r\n\r\n", true},
		{"no Host", "GET /a HTTP/1.1\r\nX-A: b\r\n\r\n", true},
		{"pipelined", pollHead + pollHead, true},
		{"body after", get("/a") + "xyz", true},

		{"HTTP/1.0", "GET /a HTTP/1.0\r\nHost: x\r\n\r\n", false},
		{"HTTP/2.0", "GET /a HTTP/2.0\r\nHost: x\r\n\r\n", false},
		{"Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", false},
		{"Content-Length 0", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", false},
		{"Transfer-Encoding", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
		{"Trailer", get("/a", "Trailer: X\r\n"), false},
		{"two Hosts", get("/a", "Host: y\r\n"), false},
		{"bare LF", "GET /a HTTP/1.1\nHost: x\r\n\r\n", false},
		{"bare LF in headers", "GET /a HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", false},
		{"folded line", get("/a", "X-A: b\r\n c\r\n"), false},
		{"leading space", "GET /a HTTP/1.1\r\n Host: x\r\n\r\n", false},
		{"absolute form", "GET http://x/a HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"asterisk", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"CONNECT", "CONNECT /a HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"PRI", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", false},
		{"double space", "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"no version", "GET /a\r\nHost: x\r\n\r\n", false},
		{"bad method", "G(T /a HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"control byte in query", get("/a?b=\x01"), false},
		{"DEL in query", get("/a?b=\x7f"), false},
		{"control byte in path", get("/a\x01"), false},
		{"space before colon", get("/a", "X-A : b\r\n"), false},
		{"no colon", get("/a", "X-A b\r\n"), false},
		{"empty name", get("/a", ": b\r\n"), false},
		{"control byte in value", get("/a", "X-A: b\x01c\r\n"), false},
		{"CR in value", get("/a", "X-A: b\rc\r\n"), false},
		{"empty line first", "\r\nGET /a HTTP/1.1\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := checkSame(t, []byte(tt.head))
			if ok != tt.ok {
				t.Fatalf("parseHead ok=%v, want %v", ok, tt.ok)
			}
			if n == 0 {
				t.Fatal("parseHead found no head end")
			}
		})
	}
}

// TestParseHeadIncomplete: a head cut anywhere before its end is not
// taken, and says it is incomplete.
func TestParseHeadIncomplete(t *testing.T) {
	for i := range len(pollHead) - 1 {
		if _, n, ok := parseHead([]byte(pollHead[:i])); ok || n != 0 {
			t.Fatalf("head cut at %d: ok=%v n=%d, want false 0", i, ok, n)
		}
	}
}

// TestHeadInPieces: a head that arrives in pieces, or does not fit the
// connection's buffer, is read whole, on a taken-over connection.
func TestHeadInPieces(t *testing.T) {
	ts := startTestServer(t, 0)
	c := ts.adopt(t)
	req := get("/echo?pieces", "X-Test: p\r\n")
	for i := 1; i < len(req); i += 7 {
		c.send(req[i-1 : min(i+6, len(req))])
		time.Sleep(time.Millisecond)
	}
	if _, body := c.read("GET"); body != `GET /echo?pieces HTTP/1.1 h1=true body="" x=p` {
		t.Fatalf("head in pieces: %q", body)
	}
	long := strings.Repeat("l", 2*readBufSize)
	c.send(get("/echo?long", "X-Pad: "+long+"\r\nX-Test: q\r\n"))
	if _, body := c.read("GET"); body != `GET /echo?long HTTP/1.1 h1=true body="" x=q` {
		t.Fatalf("head longer than the buffer: %q", body)
	}
}

// FuzzParseHead: whatever the bytes, a head parseHead takes is the
// request http.ReadRequest reads from them.
func FuzzParseHead(f *testing.F) {
	for _, seed := range []string{
		pollHead,
		get("/a", "Connection: close\r\n", "Pragma: no-cache\r\n"),
		"GET /a%20b? HTTP/1.1\r\nhost: x\r\nX-A: \t\xff \r\n\r\n",
		"POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
		"GET /a HTTP/1.1\nHost: x\r\n\r\n",
		get("/a", "X-A: b\r\n c\r\n"),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkSame(t, b)
	})
}

// BenchmarkReadHead reads the head of a poll as a keep-alive connection
// does: from a buffered reader, into a request with a context.
func BenchmarkReadHead(b *testing.B) {
	head := []byte(pollHead)
	for _, bc := range []struct {
		name string
		read func(*bufio.Reader) (*http.Request, error)
	}{
		{"parseHead", func(br *bufio.Reader) (*http.Request, error) {
			c := &conn{br: br}
			return c.readHead(b.Context())
		}},
		{"http.ReadRequest", func(br *bufio.Reader) (*http.Request, error) {
			r, err := http.ReadRequest(br)
			if err != nil {
				return nil, err
			}
			return r.WithContext(b.Context()), nil
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rd := bytes.NewReader(head)
			br := bufio.NewReaderSize(rd, readBufSize)
			b.ReportAllocs()
			for b.Loop() {
				rd.Reset(head)
				br.Reset(rd)
				if _, err := br.Peek(1); err != nil {
					b.Fatal(err)
				}
				if _, err := bc.read(br); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHeaderTimeout: on a taken-over connection, a head that does not
// come whole within the server's ReadHeaderTimeout closes the connection.
func TestHeaderTimeout(t *testing.T) {
	ts := startTestServer(t, 0, func(s *http.Server) { s.ReadHeaderTimeout = 200 * time.Millisecond })
	c := ts.adopt(t)
	start := time.Now()
	c.send("GET /echo HTTP/1.1\r\nHost: x\r\n")
	if !c.closed() {
		t.Fatal("a head that never ends kept the connection open")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %v, not at the header timeout", d)
	}
}
