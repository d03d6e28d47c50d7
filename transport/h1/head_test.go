package h1

import (
	"bufio"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// back, a line break in a value never splits a field.
func TestAppendHead(t *testing.T) {
	tests := []struct {
		name   string
		status int
		h      http.Header
		want   http.Header
	}{
		{name: "no fields", status: 204, h: http.Header{}, want: http.Header{}},
		{name: "SSE head", status: 200,
			h:    http.Header{"Content-Type": {"text/event-stream"}, "Vary": {"Origin", "Accept"}, "Connection": {"close"}},
			want: http.Header{"Content-Type": {"text/event-stream"}, "Vary": {"Origin", "Accept"}, "Connection": {"close"}}},
		{name: "line break in a value", status: 200,
			h:    http.Header{"X-A": {" one\r\nX-Injected: yes "}},
			want: http.Header{"X-A": {"one X-Injected: yes"}}},
	}
	for _, tt := range tests {
		head := AppendHead([]byte("prefix"), tt.status, tt.h)
		if !strings.HasPrefix(string(head), "prefixHTTP/1.1 ") {
			t.Fatalf("%s: %q", tt.name, head)
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(head[len("prefix"):]))), nil)
		if err != nil {
			t.Fatalf("%s: %v in %q", tt.name, err, head)
		}
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d", tt.name, resp.StatusCode)
		}
		resp.Header.Del("Connection") // ReadResponse keeps it; compare the rest
		want := tt.want.Clone()
		want.Del("Connection")
		if fmt.Sprint(resp.Header) != fmt.Sprint(want) {
			t.Errorf("%s: fields %v, want %v", tt.name, resp.Header, want)
		}
	}
}
