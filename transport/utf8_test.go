package transport

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPublishInvalidUTF8: publication data with bytes that are not UTF-8,
// inside strings or object keys, is refused with 107 by every way of
// publishing, and nothing reaches history; valid multi-byte text passes.
func TestPublishInvalidUTF8(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	session := s.connect(s.token("u1")).Session
	datas := []struct {
		name, data string
		ok         bool
	}{
		{"valid multi-byte", `"é ✓ 😀"`, true},
		{"escaped astral", `"\ud83d\ude00"`, true},
		{"stray byte in string", "\"a\xffb\"", false},
		{"truncated sequence", "\"caf\xc3\"", false},
		{"overlong slash", "\"\xc0\xaf\"", false},
		{"encoded surrogate", "\"\xed\xa0\x80\"", false},
		{"in an object key", "{\"k\xfe\":1}", false},
		{"nested", "{\"a\":[1,{\"b\":\"\x80\"}]}", false},
	}
	// Each way of publishing returns the protocol error of the one
	// publication it makes, if any.
	ways := []struct {
		name    string
		publish func(t *testing.T, channel, data string) *wireError
	}{
		{"api publish", func(t *testing.T, channel, data string) *wireError {
			var rep struct{ Error *wireError }
			s.rawAPI(t, "publish", `{"channel":"`+channel+`","data":`+data+`}`, &rep)
			return rep.Error
		}},
		{"api broadcast", func(t *testing.T, channel, data string) *wireError {
			var rep struct {
				Result struct{ Results []struct{ Error *wireError } }
				Error  *wireError
			}
			s.rawAPI(t, "broadcast", `{"channels":["`+channel+`"],"data":`+data+`}`, &rep)
			if rep.Error != nil {
				return rep.Error
			}
			return rep.Result.Results[0].Error
		}},
		{"api batch", func(t *testing.T, channel, data string) *wireError {
			var rep struct {
				Result struct{ Replies []struct{ Error *wireError } }
				Error  *wireError
			}
			s.rawAPI(t, "batch", `{"commands":[{"method":"publish","params":{"channel":"`+channel+`","data":`+data+`}}]}`, &rep)
			if rep.Error != nil {
				return rep.Error
			}
			return rep.Result.Replies[0].Error
		}},
		{"client publish", func(t *testing.T, channel, data string) *wireError {
			st, b, _ := s.post("/connection/p/command", []byte(`{"session":"`+session+
				`","commands":[{"id":1,"method":"publish","params":{"channel":"pub:`+channel+`","data":`+data+`}}]}`), nil)
			var rep struct{ Replies []cmdReplyT }
			if err := json.Unmarshal(b, &rep); err != nil || st != 200 || len(rep.Replies) != 1 {
				t.Fatalf("command: %d %q", st, b)
			}
			return rep.Replies[0].Error
		}},
	}
	for wi, w := range ways {
		for di, d := range datas {
			t.Run(w.name+"/"+d.name, func(t *testing.T) {
				t.Parallel()
				channel := "utf" + strings.Repeat("x", wi) + "-" + strings.Repeat("y", di)
				e := w.publish(t, channel, d.data)
				switch {
				case d.ok && e != nil:
					t.Fatalf("refused: %+v", e)
				case !d.ok && (e == nil || e.Code != 107):
					t.Fatalf("error %+v, want 107", e)
				}
				if w.name == "client publish" {
					channel = "pub:" + channel
				}
				var h struct {
					Result struct{ Publications []json.RawMessage }
				}
				s.api("history", map[string]any{"channel": channel}, &h)
				if want := map[bool]int{true: 1, false: 0}[d.ok]; len(h.Result.Publications) != want {
					t.Fatalf("history holds %d publications, want %d", len(h.Result.Publications), want)
				}
			})
		}
	}
}

// rawAPI sends body as is to the server API and decodes the 200 answer.
func (s *testServer) rawAPI(t *testing.T, method, body string, out any) {
	t.Helper()
	st, b, _ := s.post("/api/"+method, []byte(body), map[string][]string{"Authorization": {"apikey p-api-key"}})
	if st != 200 {
		t.Fatalf("%s: status %d: %s", method, st, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("decode %s answer %q: %v", method, b, err)
	}
}
