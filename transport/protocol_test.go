package transport

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
)

func TestConnect(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	mint := func(c auth.ConnectionClaims, secret string) string {
		tok, err := auth.MintConnectionToken([]byte(secret), c)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hour := time.Now().Add(time.Hour)
	tests := []struct {
		name   string
		body   any
		status int
		code   int
	}{
		{"token", map[string]string{"token": s.token("42")}, 200, 0},
		{"anonymous allowed by the project", map[string]string{}, 200, 0},
		{"garbage token", map[string]string{"token": "not.a.jwt"}, 401, 101},
		{"wrong secret", map[string]string{"token": mint(auth.ConnectionClaims{User: "u", Expires: hour}, "another-secret-another-secret-0123456789")}, 401, 101},
		{"expired", map[string]string{"token": mint(auth.ConnectionClaims{User: "u", Expires: time.Now().Add(-time.Minute)}, testSecret)}, 401, 109},
		{"malformed body", []byte(`{"token":`), 400, 107},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, b, resp := s.post("/connection/p/connect", tt.body, nil)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %s", st, tt.status, b)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q", got)
			}
			c := decode[connected](t, string(b))
			if tt.code != 0 {
				if c.Error == nil || c.Error.Code != tt.code {
					t.Fatalf("error %+v, want code %d", c.Error, tt.code)
				}
				return
			}
			if c.Client == "" || c.Session == "" || c.Expires <= time.Now().Unix() || c.Ping != 1 {
				t.Fatalf("connect = %+v", c)
			}
		})
	}
}

func TestConnectAnonymousRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(_ *Options, p *structure.Project) { p.Anonymous = false })
	st, b, _ := s.post("/connection/p/connect", map[string]string{}, nil)
	if st != 401 || decode[connected](t, string(b)).Error.Code != 101 {
		t.Fatalf("anonymous connect: %d %s, want 401 code 101", st, b)
	}
	if st, _, _ := s.post("/connection/nope/connect", map[string]string{}, nil); st != 404 {
		t.Fatalf("unknown project: %d, want 404", st)
	}
}

// TestConnectChannelsClaim: the token's channels are subscribed at connect
// and their grants open a stream.
func TestConnectChannelsClaim(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok, err := auth.MintConnectionToken([]byte(testSecret), auth.ConnectionClaims{
		User: "7", Expires: time.Now().Add(time.Hour), Info: json.RawMessage(`{"name":"ann"}`),
		Channels: []string{"news", "nope:x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := s.connect(tok)
	if c.User != "7" || len(c.Subs) != 2 {
		t.Fatalf("connect = %+v", c)
	}
	news := decode[struct {
		subscribed
		Error *wireError `json:"error"`
	}](t, string(c.Subs["news"]))
	if news.Grant == "" || news.Error != nil {
		t.Fatalf("subs[news] = %s", c.Subs["news"])
	}
	if bad := decode[struct{ Error *wireError }](t, string(c.Subs["nope:x"])); bad.Error == nil || bad.Error.Code != 102 {
		t.Fatalf("subs[nope:x] = %s, want error 102", c.Subs["nope:x"])
	}
	st := s.openSSE(q("session", c.Session, "grant", news.Grant), nil)
	st.next("sub")
	s.publish("news", map[string]int{"n": 1})
	if p := decode[pubData](t, st.next("pub").Data); p.Data.N != 1 {
		t.Fatalf("pub = %+v", p)
	}
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	st, b, resp := s.post("/connection/p/connect", map[string]string{"token": s.token("u")}, nil)
	if st != 200 {
		t.Fatalf("connect: %d %s", st, b)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "rotor_session" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no rotor_session cookie in %v", resp.Header["Set-Cookie"])
	}
	c := decode[connected](t, string(b))
	if cookie.Value != c.Session || !cookie.HttpOnly || cookie.Path != "/connection/p" || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure {
		t.Fatalf("cookie = %+v", cookie)
	}
	// The cookie alone authenticates /command, /sse and /poll.
	hdr := http.Header{"Cookie": {"rotor_session=" + cookie.Value}}
	st, b, _ = s.post("/connection/p/command", map[string]any{"commands": []cmd{{ID: 1, Method: "subscribe", Params: map[string]any{"channel": "news"}}}}, hdr)
	if st != 200 {
		t.Fatalf("command with cookie: %d %s", st, b)
	}
	var out struct{ Replies []cmdReplyT }
	_ = json.Unmarshal(b, &out)
	grant := decode[subscribed](t, string(out.Replies[0].Result)).Grant
	sse := s.openSSE(q("grant", grant), hdr)
	sse.next("sub")
	req, _ := http.NewRequest(http.MethodGet, s.url+"/connection/p/poll?"+q("grant", grant), nil)
	req.Header.Set("Cookie", "rotor_session="+cookie.Value)
	presp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != 200 {
		t.Fatalf("poll with cookie: %d", presp.StatusCode)
	}
}

// TestCommandMethods runs every method of docs/protocol.md, section 2, in one request and
// checks the replies come in order.
func TestCommandMethods(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.connect(s.token("u1"))
	grant := s.subscribe(c.Session, "pub:room")
	st := s.openSSE(q("session", c.Session, "grant", grant), nil)
	st.next("sub")
	s.publish("pub:room", map[string]int{"n": 1})
	s.publish("pub:room", map[string]int{"n": 2})
	replies := s.command(c.Session,
		cmd{ID: 10, Method: "subscribe", Params: map[string]any{"channel": "pub:room", "since": map[string]any{"epoch": "x", "offset": 0}}},
		cmd{ID: 11, Method: "publish", Params: map[string]any{"channel": "pub:room", "data": map[string]int{"n": 3}}},
		cmd{ID: 12, Method: "presence", Params: map[string]any{"channel": "pub:room"}},
		cmd{ID: 13, Method: "presence_stats", Params: map[string]any{"channel": "pub:room"}},
		cmd{ID: 14, Method: "history", Params: map[string]any{"channel": "pub:room", "limit": 2}},
		cmd{ID: 15, Method: "history", Params: map[string]any{"channel": "pub:room", "limit": 2, "reverse": true}},
		cmd{ID: 16, Method: "refresh", Params: map[string]any{"token": s.token("u1")}},
		cmd{ID: 17, Method: "ping"},
		cmd{ID: 18, Method: "nope"},
		cmd{ID: 19, Method: "unsubscribe", Params: map[string]any{"channel": "pub:room"}},
	)
	for _, r := range replies[:8] {
		if r.Error != nil {
			t.Fatalf("reply %d: %+v", r.ID, r.Error)
		}
	}
	if sub := decode[subscribed](t, string(replies[0].Result)); sub.Grant == "" || sub.Offset != 2 || sub.Recoverable {
		t.Errorf("subscribe with another epoch = %+v, want offset 2, not recoverable", sub)
	}
	if pub := decode[struct{ Offset uint64 }](t, string(replies[1].Result)); pub.Offset != 3 {
		t.Errorf("publish = %s", replies[1].Result)
	}
	pres := decode[struct {
		Clients map[string]struct{ User string }
	}](t, string(replies[2].Result))
	if len(pres.Clients) != 1 || pres.Clients[c.Client].User != "u1" {
		t.Errorf("presence = %s", replies[2].Result)
	}
	if stats := decode[struct{ Clients, Users int }](t, string(replies[3].Result)); stats.Clients != 1 || stats.Users != 1 {
		t.Errorf("presence_stats = %s", replies[3].Result)
	}
	type hist struct {
		Publications []pubData
		Offset       uint64
	}
	h := decode[hist](t, string(replies[4].Result))
	if len(h.Publications) != 2 || h.Publications[0].Data.N != 2 || h.Publications[1].Data.N != 3 || h.Offset != 3 {
		t.Errorf("history = %s", replies[4].Result)
	}
	hr := decode[hist](t, string(replies[5].Result))
	if len(hr.Publications) != 2 || hr.Publications[0].Data.N != 3 || hr.Publications[1].Data.N != 2 {
		t.Errorf("history reverse = %s", replies[5].Result)
	}
	if rf := decode[connected](t, string(replies[6].Result)); rf.Session == "" || rf.Expires == 0 {
		t.Errorf("refresh = %s", replies[6].Result)
	}
	if string(replies[7].Result) != "{}" {
		t.Errorf("ping = %s", replies[7].Result)
	}
	if replies[8].Error == nil || replies[8].Error.Code != 104 {
		t.Errorf("unknown method = %+v, want 104", replies[8].Error)
	}
	if replies[9].Error != nil {
		t.Errorf("unsubscribe = %+v", replies[9].Error)
	}
	if p := decode[pubData](t, st.next("pub").Data); p.Data.N != 1 {
		t.Errorf("stream pub = %+v", p)
	}
	st.next("pub")
	if p := decode[pubData](t, st.next("pub").Data); p.Data.N != 3 {
		t.Errorf("client publication = %+v", p)
	}
	un := decode[struct {
		Channel string
		Code    int
	}](t, st.next("unsub").Data)
	if un.Channel != "pub:room" || un.Code != 2000 {
		t.Errorf("unsub = %+v", un)
	}
}

// TestNamespaceRules: publish off, anonymous, unknown namespace, presence
// and history off.
func TestNamespaceRules(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	user := s.connect(s.token("u")).Session
	anon := s.connect("").Session
	tests := []struct {
		name    string
		session string
		method  string
		params  map[string]any
		code    int
	}{
		{"publish off", user, "publish", map[string]any{"channel": "news", "data": 1}, 103},
		{"publish on", user, "publish", map[string]any{"channel": "pub:x", "data": 1}, 0},
		{"anonymous publish", anon, "publish", map[string]any{"channel": "pub:x", "data": 1}, 103},
		{"anonymous publish in anonymous namespace", anon, "publish", map[string]any{"channel": "anon:x", "data": 1}, 0},
		{"anonymous subscribe", anon, "subscribe", map[string]any{"channel": "news"}, 103},
		{"anonymous subscribe in anonymous namespace", anon, "subscribe", map[string]any{"channel": "anon:x"}, 0},
		{"unknown namespace", user, "subscribe", map[string]any{"channel": "nope:x"}, 102},
		{"malformed channel", user, "subscribe", map[string]any{"channel": "a b"}, 107},
		{"user-limited, other user", user, "subscribe", map[string]any{"channel": "dm#a,b"}, 103},
		{"user-limited, own user", user, "subscribe", map[string]any{"channel": "dm#a,u"}, 0},
		{"history off", user, "history", map[string]any{"channel": "nohist:x"}, 108},
		{"presence off", user, "presence", map[string]any{"channel": "small:x"}, 108},
		{"presence_stats off", user, "presence_stats", map[string]any{"channel": "nohist:x"}, 108},
		{"publish bad data", user, "publish", map[string]any{"channel": "pub:x"}, 107},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := s.command(tt.session, cmd{Method: tt.method, Params: tt.params})[0]
			switch {
			case tt.code == 0 && r.Error != nil:
				t.Fatalf("error %+v, want success", r.Error)
			case tt.code != 0 && (r.Error == nil || r.Error.Code != tt.code):
				t.Fatalf("reply %s %+v, want code %d", r.Result, r.Error, tt.code)
			}
		})
	}
}

func TestCommandRequestErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	sess := s.connect(s.token("u")).Session
	tests := []struct {
		name   string
		body   []byte
		status int
		code   int
	}{
		{"malformed", []byte(`{"session":`), 400, 107},
		{"no session", []byte(`{"commands":[{"id":1,"method":"ping"}]}`), 401, 101},
		{"too large", []byte(`{"session":"` + sess + `","commands":[{"id":1,"method":"ping","params":{"data":"` + strings.Repeat("x", 80<<10) + `"}}]}`), 413, 106},
		{"trailing data", []byte(`{"session":"` + sess + `"} {}`), 400, 107},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, b, _ := s.post("/connection/p/command", tt.body, nil)
			e := decode[struct{ Error *wireError }](t, string(b)).Error
			if st != tt.status || e == nil || e.Code != tt.code {
				t.Fatalf("status %d body %s, want %d code %d", st, b, tt.status, tt.code)
			}
		})
	}
}

func TestCommandRateLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(o *Options, _ *structure.Project) { o.Limits.CommandRate, o.Limits.CommandBurst = 0.01, 3 })
	sess := s.connect(s.token("u")).Session
	for i := range 3 {
		if st, _, e := s.commandStatus(sess, cmd{Method: "ping"}); st != 200 {
			t.Fatalf("command %d: %d %+v", i, st, e)
		}
	}
	st, _, e := s.commandStatus(sess, cmd{Method: "ping"})
	if st != 429 || e == nil || e.Code != 110 {
		t.Fatalf("4th command: %d %+v, want 429 code 110", st, e)
	}
	// Another client has its own budget.
	if st, _, _ := s.commandStatus(s.connect(s.token("u")).Session, cmd{Method: "ping"}); st != 200 {
		t.Fatalf("other client: %d", st)
	}
}

// TestRefusedEverywhere: forged, expired, other-project and revoked
// sessions and grants get 401 from /command, /sse and /poll.
func TestRefusedEverywhere(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.connect(s.token("u"))
	grant := s.subscribe(c.Session, "news")
	secret := []byte(testSecret)
	past := time.Now().Add(-time.Minute)
	expiredSession, _ := auth.SignSession(secret, auth.Session{Project: "p", Client: c.Client, User: "u", Issued: past.Add(-time.Hour), Expires: past})
	otherSession, _ := auth.SignSession(secret, auth.Session{Project: "other", Client: c.Client, User: "u", Issued: time.Now(), Expires: time.Now().Add(time.Hour)})
	expiredGrant, _ := auth.SignGrant(secret, auth.Grant{Project: "p", Channel: "news", Client: c.Client, User: "u", Expires: past})
	otherGrant, _ := auth.SignGrant(secret, auth.Grant{Project: "other", Channel: "news", Client: c.Client, User: "u", Expires: time.Now().Add(time.Hour)})
	otherClient := s.subscribe(s.connect(s.token("u")).Session, "news")
	forge := func(s string) string {
		b := []byte(s)
		i := len(b) - 3
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name           string
		session, grant string
		// grantOnly: the session is fine, only the stream refuses.
		grantOnly bool
	}{
		{"forged session", forge(c.Session), grant, false},
		{"garbage session", "garbage", grant, false},
		{"expired session", expiredSession, grant, false},
		{"other-project session", otherSession, grant, false},
		{"forged grant", c.Session, forge(grant), true},
		{"expired grant", c.Session, expiredGrant, true},
		{"other-project grant", c.Session, otherGrant, true},
		{"other client's grant", c.Session, otherClient, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !tt.grantOnly {
				if st, _, e := s.commandStatus(tt.session, cmd{Method: "ping"}); st != 401 || e == nil || (e.Code != 101 && e.Code != 109) {
					t.Errorf("/command: %d %+v, want 401", st, e)
				}
			}
			if _, st, body := s.trySSE(q("session", tt.session, "grant", tt.grant), nil); st != 401 {
				t.Errorf("/sse: %d %s, want 401", st, body)
			}
			if st, r := s.poll(q("session", tt.session, "grant", tt.grant, "timeout", "0")); st != 401 || r.Error == nil {
				t.Errorf("/poll: %d %+v, want 401", st, r)
			}
		})
	}
	// A session of project p sent to project other is refused too.
	st, _, _ := s.post("/connection/other/command", map[string]any{"session": c.Session, "commands": []cmd{{ID: 1, Method: "ping"}}}, nil)
	if st != 401 {
		t.Errorf("p's session at /connection/other/command: %d, want 401", st)
	}
}

// apiRaw calls the server API with a raw body and key and returns the
// status and the decoded reply.
func (s *testServer) apiRaw(method, key string, body []byte) (int, apiAnswer) {
	s.t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "apikey "+key)
	}
	st, b, _ := s.post("/api/"+method, body, h)
	var out apiAnswer
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("decode API reply %q: %v", b, err)
	}
	return st, out
}

type apiAnswer struct {
	Result json.RawMessage `json:"result"`
	Error  *wireError      `json:"error"`
}

func TestServerAPIErrors(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tests := []struct {
		name, method, key string
		body              []byte
		status, code      int
	}{
		{"bad key", "publish", "nope", []byte(`{"channel":"a","data":1}`), 401, 101},
		{"no key", "publish", "", []byte(`{"channel":"a","data":1}`), 401, 101},
		{"other project's key", "publish", "other-api-key", []byte(`{"project":"p","channel":"a","data":1}`), 401, 101},
		{"unknown method", "nope", "p-api-key", []byte(`{}`), 404, 104},
		{"too large", "publish", "p-api-key", []byte(`{"channel":"a","data":"` + strings.Repeat("x", 80<<10) + `"}`), 413, 106},
		{"malformed", "publish", "p-api-key", []byte(`{"channel":`), 400, 107},
		{"admin key without project", "publish", "admin-key", []byte(`{"channel":"a","data":1}`), 400, 107},
		{"admin key, unknown project", "publish", "admin-key", []byte(`{"project":"nope","channel":"a","data":1}`), 404, 102},
		{"admin key with project", "publish", "admin-key", []byte(`{"project":"p","channel":"a","data":1}`), 200, 0},
		{"unknown namespace", "publish", "p-api-key", []byte(`{"channel":"nope:a","data":1}`), 200, 102},
		{"no data", "publish", "p-api-key", []byte(`{"channel":"a"}`), 200, 107},
		{"history off", "history", "p-api-key", []byte(`{"channel":"nohist:a"}`), 200, 108},
		{"presence off", "presence", "p-api-key", []byte(`{"channel":"nohist:a"}`), 200, 108},
		{"unsubscribe without user", "unsubscribe", "p-api-key", []byte(`{"channel":"a"}`), 200, 107},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st, r := s.apiRaw(tt.method, tt.key, tt.body)
			if st != tt.status {
				t.Fatalf("status %d, want %d (%+v)", st, tt.status, r.Error)
			}
			if tt.code == 0 && r.Error != nil || tt.code != 0 && (r.Error == nil || r.Error.Code != tt.code) {
				t.Fatalf("error %+v, want code %d", r.Error, tt.code)
			}
		})
	}
}

func TestServerAPIMethods(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.connect(s.token("u"))
	st := s.openSSE(q("session", c.Session, "grant", s.subscribe(c.Session, "pub:a")), nil)
	st.next("sub")
	call := func(method string, body any) json.RawMessage {
		t.Helper()
		b, _ := json.Marshal(body)
		code, r := s.apiRaw(method, "p-api-key", b)
		if code != 200 || r.Error != nil {
			t.Fatalf("%s: %d %+v", method, code, r.Error)
		}
		return r.Result
	}
	bc := decode[struct {
		Results []struct {
			Channel string
			Offset  uint64
			Error   *wireError
		}
	}](t, string(call("broadcast", map[string]any{"channels": []string{"pub:a", "pub:b", "nope:c"}, "data": map[string]int{"n": 1}})))
	if len(bc.Results) != 3 || bc.Results[0].Offset != 1 || bc.Results[1].Offset != 1 || bc.Results[2].Error == nil || bc.Results[2].Error.Code != 102 {
		t.Fatalf("broadcast = %+v", bc)
	}
	if p := decode[pubData](t, st.next("pub").Data); p.Data.N != 1 {
		t.Fatalf("pub = %+v", p)
	}
	batch := decode[struct{ Replies []apiAnswer }](t, string(call("batch", map[string]any{"commands": []map[string]any{
		{"method": "publish", "params": map[string]any{"channel": "pub:a", "data": map[string]int{"n": 2}}},
		{"method": "history", "params": map[string]any{"channel": "pub:a"}},
		{"method": "batch", "params": map[string]any{}},
		{"method": "presence_stats", "params": map[string]any{"channel": "pub:a"}},
	}})))
	if len(batch.Replies) != 4 || batch.Replies[0].Error != nil || batch.Replies[2].Error == nil || batch.Replies[2].Error.Code != 104 {
		t.Fatalf("batch = %+v", batch)
	}
	if h := decode[struct{ Publications []pubData }](t, string(batch.Replies[1].Result)); len(h.Publications) != 2 {
		t.Fatalf("history in batch = %s", batch.Replies[1].Result)
	}
	if ps := decode[struct{ Clients, Users int }](t, string(batch.Replies[3].Result)); ps.Clients != 1 || ps.Users != 1 {
		t.Fatalf("presence_stats in batch = %s", batch.Replies[3].Result)
	}
	chans := decode[struct {
		Channels map[string]struct{ Clients int }
	}](t, string(call("channels", map[string]any{"pattern": "pub:*"})))
	if len(chans.Channels) != 1 || chans.Channels["pub:a"].Clients != 1 {
		t.Fatalf("channels = %+v", chans)
	}
	info := decode[struct {
		Nodes []struct {
			ID      string
			Clients int
		}
	}](t, string(call("info", map[string]any{})))
	if len(info.Nodes) != 1 || info.Nodes[0].ID == "" || info.Nodes[0].Clients != 1 {
		t.Fatalf("info = %+v", info)
	}
	call("history_remove", map[string]any{"channel": "pub:a"})
	if h := decode[struct {
		Publications []pubData
		Offset       uint64
	}](t, string(call("history", map[string]any{"channel": "pub:a"}))); len(h.Publications) != 0 {
		t.Fatalf("history after history_remove = %+v", h)
	}
}

// TestServerAPIUnsubscribe: the user's streams get unsub and the grants
// issued before are refused; a fresh subscribe works.
func TestServerAPIUnsubscribe(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.connect(s.token("u"))
	grant := s.subscribe(c.Session, "room")
	query := q("session", c.Session, "grant", grant)
	st := s.openSSE(query, nil)
	st.next("sub")
	if code := s.api("unsubscribe", map[string]string{"channel": "room", "user": "u"}, nil); code != 200 {
		t.Fatalf("unsubscribe: %d", code)
	}
	if u := decode[struct {
		Channel string
		Code    int
	}](t, st.next("unsub").Data); u.Channel != "room" || u.Code != 2000 {
		t.Fatalf("unsub = %+v", u)
	}
	if _, code, body := s.trySSE(query, nil); code != 401 {
		t.Fatalf("SSE with the revoked grant: %d %s, want 401", code, body)
	}
	if code, r := s.poll(query + "&timeout=0"); code != 401 {
		t.Fatalf("poll with the revoked grant: %d %+v, want 401", code, r)
	}
	time.Sleep(2 * time.Millisecond) // marks have millisecond precision
	fresh := s.subscribe(c.Session, "room")
	s.openSSE(q("session", c.Session, "grant", fresh), nil).next("sub")
}

// TestServerAPIDisconnect: without reconnect, streams get 3003 and the
// sessions are refused everywhere; with reconnect, 3000 and the session
// still works.
func TestServerAPIDisconnect(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	type disc struct {
		Code      int
		Reconnect bool
	}
	// reconnect: true.
	c := s.connect(s.token("keep"))
	query := q("session", c.Session, "grant", s.subscribe(c.Session, "room"))
	st := s.openSSE(query, nil)
	st.next("sub")
	s.api("disconnect", map[string]any{"user": "keep", "reconnect": true}, nil)
	if d := decode[disc](t, st.next("disconnect").Data); d.Code != 3000 || !d.Reconnect {
		t.Fatalf("disconnect = %+v, want 3000 reconnect", d)
	}
	s.openSSE(query, nil).next("sub")
	s.command(c.Session, cmd{Method: "ping"})

	// Revoking.
	c = s.connect(s.token("gone"))
	query = q("session", c.Session, "grant", s.subscribe(c.Session, "room"))
	st = s.openSSE(query, nil)
	st.next("sub")
	s.api("disconnect", map[string]any{"user": "gone"}, nil)
	if d := decode[disc](t, st.next("disconnect").Data); d.Code != 3003 || d.Reconnect {
		t.Fatalf("disconnect = %+v, want 3003 no reconnect", d)
	}
	if code, _, e := s.commandStatus(c.Session, cmd{Method: "ping"}); code != 401 || e == nil || e.Code != 101 {
		t.Fatalf("/command after revocation: %d %+v", code, e)
	}
	if _, code, body := s.trySSE(query, nil); code != 401 {
		t.Fatalf("/sse after revocation: %d %s", code, body)
	}
	if code, r := s.poll(query + "&timeout=0"); code != 401 {
		t.Fatalf("/poll after revocation: %d %+v", code, r)
	}
	// A new connection after the revocation works.
	time.Sleep(2 * time.Millisecond)
	s.command(s.connect(s.token("gone")).Session, cmd{Method: "ping"})
}
