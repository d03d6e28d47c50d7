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

// withAuthURL points project p's auth_url at url and sets a short hook
// timeout.
func withAuthURL(url string) serverOption {
	return func(o *Options, p *structure.Project) {
		p.AuthURL = url
		o.HookTimeout = 200 * time.Millisecond
	}
}

// TestPrivateBatchedAuth: 5 private channels subscribed in one /command
// make exactly one signed call to auth_url, answered per channel.
func TestPrivateBatchedAuth(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(_ int, body []byte, w http.ResponseWriter) {
		var req struct {
			Client, User string
			Channels     []string
		}
		_ = json.Unmarshal(body, &req)
		ans := map[string]any{}
		for _, ch := range req.Channels {
			// Channels whose name ends in "no" are denied.
			ans[ch] = map[string]any{"allow": !strings.HasSuffix(ch, "no"), "info": map[string]string{"role": "r-" + ch}}
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"channels": ans})
	})
	s := startServer(t, withAuthURL(be.url))
	c := s.connect(s.token("u1"))
	chans := []string{"$a", "pub:$b", "$cno", "pub:$dno", "$e"}
	var cmds []cmd
	for _, ch := range chans {
		cmds = append(cmds, cmd{Method: "subscribe", Params: map[string]any{"channel": ch}})
	}
	cmds = append(cmds, cmd{Method: "subscribe", Params: map[string]any{"channel": "news"}})
	replies := s.command(c.Session, cmds...)
	calls := be.callList()
	if len(calls) != 1 {
		t.Fatalf("auth_url got %d calls, want 1", len(calls))
	}
	if !auth.VerifyTimestampedSignature([]byte(testSecret), calls[0].Body, calls[0].Timestamp, calls[0].Signature) {
		t.Errorf("X-Rotor-Signature %q does not verify", calls[0].Signature)
	}
	if !strings.HasPrefix(calls[0].Signature, "sha256=") {
		t.Errorf("X-Rotor-Signature = %q, want sha256=<hex>", calls[0].Signature)
	}
	req := decode[struct {
		Client, User string
		Channels     []string
	}](t, string(calls[0].Body))
	if req.Client != c.Client || req.User != "u1" || strings.Join(req.Channels, " ") != strings.Join(chans, " ") {
		t.Errorf("auth request = %s", calls[0].Body)
	}
	grants := map[string]string{}
	for i, ch := range append(chans, "news") {
		r := replies[i]
		deny := strings.HasSuffix(ch, "no")
		switch {
		case deny && (r.Error == nil || r.Error.Code != 103):
			t.Errorf("%s: %s %+v, want 103", ch, r.Result, r.Error)
		case !deny && r.Error != nil:
			t.Errorf("%s: %+v, want a grant", ch, r.Error)
		case !deny:
			grants[ch] = decode[subscribed](t, string(r.Result)).Grant
		}
	}
	// The channel info from the answer reaches presence.
	st := s.openSSE(q("session", c.Session, "grant", grants["pub:$b"]), nil)
	st.next("sub")
	r := s.command(c.Session, cmd{Method: "presence", Params: map[string]any{"channel": "pub:$b", "grant": grants["pub:$b"]}})[0]
	pres := decode[struct {
		Clients map[string]struct {
			User     string
			ChanInfo struct{ Role string } `json:"chan_info"`
		}
	}](t, string(r.Result))
	if got := pres.Clients[c.Client]; got.User != "u1" || got.ChanInfo.Role != "r-pub:$b" {
		t.Errorf("presence = %s %+v", r.Result, r.Error)
	}
	if n := len(be.callList()); n != 1 {
		t.Errorf("auth_url got %d calls after streaming, want still 1", n)
	}
}

// TestPrivateAuthFailures: auth_url slow past the timeout, failing or
// answering garbage denies with 103, without hanging the client.
func TestPrivateAuthFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, stop <-chan struct{})
	}{
		{"slow", func(w http.ResponseWriter, stop <-chan struct{}) {
			select {
			case <-time.After(5 * time.Second):
			case <-stop:
			}
			_, _ = w.Write([]byte(`{"channels":{"$a":{"allow":true}}}`))
		}},
		{"500", func(w http.ResponseWriter, _ <-chan struct{}) {
			w.WriteHeader(500)
			_, _ = w.Write([]byte(`{"channels":{"$a":{"allow":true}}}`))
		}},
		{"garbage", func(w http.ResponseWriter, _ <-chan struct{}) { _, _ = w.Write([]byte(`<html>allow</html>`)) }},
		{"wrong shape", func(w http.ResponseWriter, _ <-chan struct{}) { _, _ = w.Write([]byte(`{"channels":{"$a":true}}`)) }},
		{"empty answer", func(w http.ResponseWriter, _ <-chan struct{}) { _, _ = w.Write([]byte(`{}`)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stop := make(chan struct{})
			be := startBackend(t, func(_ int, _ []byte, w http.ResponseWriter) { tt.handle(w, stop) })
			t.Cleanup(func() { close(stop) }) // runs before the backend closes
			s := startServer(t, withAuthURL(be.url))
			c := s.connect(s.token("u"))
			start := time.Now()
			r := s.command(c.Session, cmd{Method: "subscribe", Params: map[string]any{"channel": "$a"}})[0]
			if r.Error == nil || r.Error.Code != 103 {
				t.Fatalf("subscribe: %s %+v, want 103", r.Result, r.Error)
			}
			// The 5s backend must not hold the client beyond the 200ms
			// hook timeout by much (a generous bound, not a speed test).
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("denial took %v", d)
			}
			if n := len(be.callList()); n != 1 {
				t.Fatalf("auth_url got %d calls, want 1", n)
			}
			// The inline SSE form is refused with 403 too.
			if _, st, body := s.trySSE(q("token", s.token("u"), "channel", "$a"), nil); st != 403 {
				t.Fatalf("inline SSE: %d %s, want 403", st, body)
			}
		})
	}
}

// TestPrivateNoAuthURL: without auth_url and token, private channels are
// denied.
func TestPrivateNoAuthURL(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	r := s.command(s.connect(s.token("u")).Session, cmd{Method: "subscribe", Params: map[string]any{"channel": "$a"}})[0]
	if r.Error == nil || r.Error.Code != 103 {
		t.Fatalf("subscribe: %+v, want 103", r.Error)
	}
}

// TestSubscriptionToken: a subscription token replaces auth_url; it must
// be for this user and this channel.
func TestSubscriptionToken(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(_ int, _ []byte, w http.ResponseWriter) { w.WriteHeader(500) })
	s := startServer(t, withAuthURL(be.url))
	c := s.connect(s.token("u1"))
	mint := func(user, channel string, exp time.Time) string {
		tok, err := auth.MintSubscriptionToken([]byte(testSecret), auth.SubscriptionClaims{User: user, Channel: channel, Expires: exp, Info: json.RawMessage(`{"seat":3}`)})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hour := time.Now().Add(time.Hour)
	tests := []struct {
		name, channel, token string
		code                 int
	}{
		{"valid", "pub:$room", mint("u1", "pub:$room", hour), 0},
		{"other user", "pub:$room", mint("u2", "pub:$room", hour), 103},
		{"other channel", "pub:$room", mint("u1", "pub:$other", hour), 103},
		{"expired", "pub:$room", mint("u1", "pub:$room", time.Now().Add(-time.Minute)), 109},
		{"garbage", "pub:$room", "x.y.z", 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := s.command(c.Session, cmd{Method: "subscribe", Params: map[string]any{"channel": tt.channel, "token": tt.token}})[0]
			if tt.code == 0 {
				if r.Error != nil {
					t.Fatalf("subscribe: %+v", r.Error)
				}
				return
			}
			if r.Error == nil || r.Error.Code != tt.code {
				t.Fatalf("subscribe: %s %+v, want %d", r.Result, r.Error, tt.code)
			}
		})
	}
	if n := len(be.callList()); n != 0 {
		t.Errorf("auth_url got %d calls, want 0", n)
	}
	// The inline SSE form takes sub_token.
	st := s.openSSE(q("token", s.token("u1"), "channel", "pub:$room", "sub_token", mint("u1", "pub:$room", hour)), nil)
	st.next("sub")
}

// TestPrivateNeedsGrant: publish, presence and history in a private
// channel need the channel's grant.
func TestPrivateNeedsGrant(t *testing.T) {
	t.Parallel()
	be := startBackend(t, func(_ int, _ []byte, w http.ResponseWriter) {
		_, _ = w.Write([]byte(`{"channels":{"pub:$room":{"allow":true},"pub:$other":{"allow":true}}}`))
	})
	s := startServer(t, withAuthURL(be.url))
	c := s.connect(s.token("u1"))
	grant := s.subscribe(c.Session, "pub:$room")
	otherGrant := s.subscribe(c.Session, "pub:$other")
	for _, method := range []string{"publish", "presence", "presence_stats", "history"} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			params := func(g string) map[string]any {
				m := map[string]any{"channel": "pub:$room", "data": map[string]int{"n": 1}}
				if g != "" {
					m["grant"] = g
				}
				return m
			}
			r := s.command(c.Session,
				cmd{Method: method, Params: params("")},
				cmd{Method: method, Params: params(otherGrant)},
				cmd{Method: method, Params: params("forged" + grant)},
				cmd{Method: method, Params: params(grant)},
			)
			for i, want := range []int{103, 103, 101, 0} {
				switch {
				case want == 0 && r[i].Error != nil:
					t.Errorf("command %d: %+v, want success", i, r[i].Error)
				case want != 0 && (r[i].Error == nil || r[i].Error.Code != want):
					t.Errorf("command %d: %s %+v, want %d", i, r[i].Result, r[i].Error, want)
				}
			}
		})
	}
}
