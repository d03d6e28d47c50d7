package transport

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// fuzzServer is a node for fuzzing whose command rate is unlimited, so
// every input reaches the command decoder.
func fuzzServer(f *testing.F) (*testServer, connected, string) {
	s := startServer(f, func(o *Options, _ *structure.Project) { o.Limits.CommandRate, o.Limits.CommandBurst = 1e9, 1e9 })
	c := s.connect(s.token("u"))
	return s, c, s.subscribe(c.Session, "pub:room")
}

// serve runs one request through the node's real router.
func serve(s *testServer, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	return rec
}

// FuzzCommand sends arbitrary /command bodies through the real handler:
// never a panic, never a 500, always a JSON answer. "SESSION" and "GRANT"
// in the input are replaced with a valid session and grant, so inputs get
// past authentication into command decoding.
func FuzzCommand(f *testing.F) {
	s, c, grant := fuzzServer(f)
	for _, seed := range []string{
		`{"session":"SESSION","commands":[{"id":1,"method":"ping"}]}`,
		`{"session":"SESSION","commands":[{"id":1,"method":"subscribe","params":{"channel":"pub:room","since":{"epoch":"x","offset":3}}}]}`,
		`{"session":"SESSION","commands":[{"id":2,"method":"publish","params":{"channel":"pub:room","data":{"n":1},"grant":"GRANT"}}]}`,
		`{"session":"SESSION","commands":[{"id":3,"method":"history","params":{"channel":"pub:room","limit":-1,"reverse":true}}]}`,
		"{\"session\":\"SESSION\",\"commands\":[{\"id\":2,\"method\":\"publish\",\"params\":{\"channel\":\"pub:room\",\"data\":\"\xff\"}},{\"id\":3,\"method\":\"history\",\"params\":{\"channel\":\"pub:room\"}}]}",
		`{"session":"SESSION","commands":[{"id":4,"method":"presence","params":{"channel":"$x","grant":"GRANT"}},{"id":5,"method":"presence_stats","params":{"channel":"a:b:c"}}]}`,
		`{"session":"SESSION","commands":[{"id":6,"method":"refresh","params":{"token":"a.b.c"}},{"id":7,"method":"unsubscribe","params":{"channel":"x#u"}}]}`,
		`{"session":"SESSION","commands":[{"id":18446744073709551615,"method":"nope","params":null}]}`,
		`{"session":"SESSION","commands":null}`,
		`{"session":"garbage"}`,
		`[]`,
		`{"commands":[{"id":-1}]}`,
		"\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		body = bytes.ReplaceAll(body, []byte("SESSION"), []byte(c.Session))
		body = bytes.ReplaceAll(body, []byte("GRANT"), []byte(grant))
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/connection/p/command", bytes.NewReader(body))
		rec := serve(s, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
		// json.Valid does not check UTF-8: history would relay stored
		// publication data as it is.
		if !json.Valid(rec.Body.Bytes()) || !utf8.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not UTF-8 JSON for %q: %q", body, rec.Body)
		}
	})
}

// FuzzPollQuery sends arbitrary /poll queries (timeout forced to 0):
// never a panic, never a 500.
func FuzzPollQuery(f *testing.F) {
	s, c, grant := fuzzServer(f)
	for _, seed := range []string{
		"session=SESSION&grant=GRANT",
		"session=SESSION&grant=GRANT&since=abc:0",
		"session=SESSION&grant=GRANT&since=abc:01.x:2",
		"session=SESSION&grant=GRANT&grant=GRANT",
		"token=a.b.c&channel=news&channel=$x&sub_token=x",
		"channel=anon:x",
		"grant=x",
		"since=%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		raw = strings.ReplaceAll(raw, "SESSION", c.Session)
		raw = strings.ReplaceAll(raw, "GRANT", grant)
		vals, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		vals.Set("timeout", "0")
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/connection/p/poll?"+vals.Encode(), nil)
		rec := serve(s, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for %q: %s", rec.Code, raw, rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("answer is not JSON for %q: %q", raw, rec.Body)
		}
	})
}
