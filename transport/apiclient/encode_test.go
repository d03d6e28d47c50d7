package apiclient

import (
	"encoding/json"
	"testing"
)

func TestAppendString(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "news", "chat:room-1", `a"b`, `back\slash`, "ünï", "<b>&", "nl\n", "\x00", "\u2028"} {
		want, _ := json.Marshal(s)
		if got := appendString(nil, s); string(got) != string(want) {
			t.Errorf("appendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestPublishBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		project string
		req     PublishRequest
		want    string
	}{
		{"raw data", "", PublishRequest{Channel: "c", Data: json.RawMessage(`{"n":1}`), IdempotencyKey: "k"},
			`{"channel":"c","data":{"n":1},"idempotency_key":"k"}`},
		{"raw data with project, no key", "p", PublishRequest{Channel: `c"`, Data: json.RawMessage(`1`)},
			`{"project":"p","channel":"c\"","data":1}`},
		{"any data", "p", PublishRequest{Channel: "c", Data: map[string]int{"n": 1}, IdempotencyKey: "k"},
			`{"project":"p","channel":"c","data":{"n":1},"idempotency_key":"k"}`},
		{"nil data", "", PublishRequest{Channel: "c"}, `{"channel":"c","data":null}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New("http://127.0.0.1:1", "k", Options{Project: tt.project})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.publishBody(tt.req)
			if err != nil || string(got) != tt.want {
				t.Fatalf("publishBody = %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}

// TestKeyOnlyWithRetries checks that a key is made for a publish without
// one only when the client may retry it.
func TestKeyOnlyWithRetries(t *testing.T) {
	t.Parallel()
	for _, attempts := range []int{0, 1, 2} {
		c, err := New("http://127.0.0.1:1", "k", Options{MaxAttempts: attempts})
		if err != nil {
			t.Fatal(err)
		}
		var key string
		if err := c.withKey(&key); err != nil {
			t.Fatal(err)
		}
		if want := attempts != 1; (key != "") != want || key != "" && len(key) != 22 {
			t.Errorf("MaxAttempts %d: key %q", attempts, key)
		}
	}
}
