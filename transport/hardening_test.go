package transport

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
)

// hostile tokens for the bad-input tables.
func badTokens(t *testing.T) map[string]struct {
	token string
	code  int
} {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + b64([]byte(`{"sub":"u"}`)) + "."
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.MapClaims{"sub": "u"}).SignedString([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	expired, err := auth.MintConnectionToken([]byte(testSecret), auth.ConnectionClaims{User: "u", Expires: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	wrongKey, err := auth.MintConnectionToken([]byte("another-secret-another-secret-another"), auth.ConnectionClaims{User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]struct {
		token string
		code  int
	}{
		"alg none":      {none, 101},
		"HS512":         {hs512, 101},
		"expired":       {expired, 109},
		"bad signature": {wrongKey, 101},
		"malformed":     {"not.a.jwt", 101},
		"garbage":       {strings.Repeat("x", 10000), 101},
	}
}

type errorReply struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestSSEBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(_ *Options, p *structure.Project) { p.Anonymous = false })
	good := s.token("u1")
	type tc struct {
		name   string
		query  string
		header http.Header
		status int
		code   int
	}
	cases := []tc{
		{"no token", q("channel", "a"), nil, 401, 101},
		{"no channel", q("token", good), nil, 400, 107},
		{"space in channel", "token=" + good + "&channel=a%20b", nil, 400, 107},
		{"two colons", q("token", good, "channel", "a:b:c"), nil, 400, 107},
		{"too long", q("token", good, "channel", strings.Repeat("x", 256)), nil, 400, 107},
		{"newline in channel", "token=" + good + "&channel=a%0Ab", nil, 400, 107},
		{"unknown namespace", q("token", good, "channel", "nope:x"), nil, 403, 102},
		{"user-limited for others", q("token", good, "channel", "x#u2,u3"), nil, 403, 103},
		{"private without grant", q("token", good, "channel", "$secret"), nil, 403, 103},
		{"malformed since", q("token", good, "channel", "a", "since", "zz"), nil, 400, 107},
		{"since with CRLF", "token=" + good + "&channel=a&since=e%0D%0A:1", nil, 400, 107},
		{"since for 2 channels", q("token", good, "channel", "a", "since", "abc:1.abc:2"), nil, 400, 107},
		{"duplicate channel", q("token", good, "channel", "a", "channel", "a"), nil, 400, 107},
		{"forged session", q("session", "abc.def", "grant", "x.y"), nil, 401, 101},
	}
	for name, bt := range badTokens(t) {
		cases = append(cases, tc{"token " + name, "token=" + url.QueryEscape(bt.token) + "&channel=a", nil, 401, bt.code})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, status, body := s.trySSE(c.query, c.header)
			if st != nil {
				t.Fatalf("stream opened, want %d", c.status)
			}
			if status != c.status {
				t.Fatalf("status %d, want %d (%s)", status, c.status, body)
			}
			if e := decode[errorReply](t, body); e.Error.Code != c.code || e.Error.Message == "" {
				t.Fatalf("error %+v, want code %d", e.Error, c.code)
			}
		})
	}
	// Unknown project: 404.
	resp, err := http.Get(s.url + "/connection/nope/sse?" + q("token", good, "channel", "a"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("unknown project: status %d", resp.StatusCode)
	}
	// The server still serves after all of that.
	st := s.openSSE(q("token", good, "channel", "a"), nil)
	st.next("sub")
	s.publish("a", map[string]int{"n": 1})
	st.next("pub")
}

func TestAPIBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	post := func(method, key, body string) (int, errorReply) {
		req, _ := http.NewRequest(http.MethodPost, s.url+"/api/"+method, strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "apikey "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e errorReply
		_ = json.Unmarshal(b, &e)
		if ct := resp.Header.Get("Cache-Control"); ct != "no-store" {
			t.Errorf("%s: Cache-Control %q", method, ct)
		}
		return resp.StatusCode, e
	}
	big := `{"channel":"a","data":"` + strings.Repeat("x", 80<<10) + `"}`
	cases := []struct {
		name, method, key, body string
		status, code            int
	}{
		{"no key", "publish", "", `{"channel":"a","data":1}`, 401, 101},
		{"bad key", "publish", "wrong", `{"channel":"a","data":1}`, 401, 101},
		{"other project's key", "publish", "p-api-key", `{"project":"other","channel":"a","data":1}`, 401, 101},
		{"admin key without project", "publish", "admin-key", `{"channel":"a","data":1}`, 400, 107},
		{"unknown method", "explode", "p-api-key", `{}`, 404, 104},
		{"malformed JSON", "publish", "p-api-key", `{"channel":`, 400, 107},
		{"trailing data", "publish", "p-api-key", `{"channel":"a","data":1} {}`, 400, 107},
		{"too large", "publish", "p-api-key", big, 413, 106},
		{"no data", "publish", "p-api-key", `{"channel":"a"}`, 200, 107},
		{"bad channel", "publish", "p-api-key", `{"channel":"a b","data":1}`, 200, 107},
		{"unknown namespace", "publish", "p-api-key", `{"channel":"zz:a","data":1}`, 200, 102},
		{"history off", "history", "p-api-key", `{"channel":"nohist:a"}`, 200, 108},
		{"negative limit", "history", "p-api-key", `{"channel":"a","limit":-1}`, 200, 107},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, e := post(c.method, c.key, c.body)
			if status != c.status || e.Error.Code != c.code {
				t.Fatalf("status %d code %d (%s), want %d %d", status, e.Error.Code, e.Error.Message, c.status, c.code)
			}
		})
	}
	// The admin key acts on any project named in the body.
	if status, e := post("publish", "admin-key", `{"project":"other","channel":"a","data":{"x":1}}`); status != 200 || e.Error.Code != 0 {
		t.Fatalf("admin key publish: %d %+v", status, e)
	}
}

// TestSlowSubscriber: a subscriber that stops reading is cut with 3002
// while another keeps receiving everything.
func TestSlowSubscriber(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(o *Options, _ *structure.Project) {
		o.QueueBytes = 256 << 10
		o.WriteTimeout = time.Minute
	})
	tok := s.token("u")
	// The stalled reader: a raw response nobody reads for now.
	resp, err := http.Get(s.url + "/connection/p/sse?" + q("token", tok, "channel", "hot"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	fast := s.openSSE(q("token", tok, "channel", "hot"), nil)
	fast.next("sub")
	payload := strings.Repeat("y", 32<<10)
	const msgs = 400 // 12.8 MB: more than socket buffers and the queue hold
	// The fast reader takes each publication before the next is made, so
	// it never lags by more than one message whatever the machine's load;
	// the stalled one falls further behind with each.
	for n := 1; n <= msgs; n++ {
		s.publish("hot", map[string]any{"n": n, "pad": payload})
		p := decode[pubData](t, fast.next("pub").Data)
		if p.Offset != uint64(n) {
			t.Fatalf("fast reader got offset %d, want %d", p.Offset, n)
		}
	}
	if slow := s.node.Hub().Stats().Slow; slow != 1 {
		t.Fatalf("slow disconnects = %d, want 1", slow)
	}
	// Now read the stalled stream: it ends with disconnect 3002 and
	// reconnect true, after an unbroken run of publications.
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.LastIndex(body, []byte("event: disconnect\ndata: "))
	if i < 0 {
		t.Fatalf("no disconnect event in %d bytes", len(body))
	}
	var d struct {
		Code      int  `json:"code"`
		Reconnect bool `json:"reconnect"`
	}
	line := body[i+len("event: disconnect\ndata: "):]
	line = line[:bytes.IndexByte(line, '\n')]
	if err := json.Unmarshal(line, &d); err != nil || d.Code != 3002 || !d.Reconnect {
		t.Fatalf("disconnect = %s (%v)", line, err)
	}
}

// TestShutdownSends3001: every stream gets disconnect 3001.
func TestShutdownSends3001(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.token("u")
	streams := make([]*sseStream, 10)
	for i := range streams {
		streams[i] = s.openSSE(q("token", tok, "channel", "c"+itoa(i%3)), nil)
		streams[i].next("sub")
	}
	go func() { _ = s.node.Shutdown(t.Context(), shutdownReasonForTest) }()
	for _, st := range streams {
		d := decode[struct {
			Code      int  `json:"code"`
			Reconnect bool `json:"reconnect"`
		}](t, st.next("disconnect").Data)
		if d.Code != 3001 || !d.Reconnect {
			t.Fatalf("disconnect = %+v", d)
		}
	}
	// New streams are refused while shutting down.
	if st, status, _ := s.trySSE(q("token", tok, "channel", "x"), nil); st != nil || status != 503 {
		t.Fatalf("stream during shutdown: status %d", status)
	}
}
