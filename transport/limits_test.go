package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/requestid"
)

// limitSession connects and subscribes through the client protocol and
// returns the session and a grant per channel.
func limitSession(t *testing.T, s *testServer, user string, chans ...string) (string, []string) {
	t.Helper()
	post := func(path string, body any, out any) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(s.url+"/connection/p/"+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, rb)
		}
		if err := json.Unmarshal(rb, out); err != nil {
			t.Fatal(err)
		}
	}
	var conn struct{ Session string }
	post("connect", map[string]string{"token": s.token(user)}, &conn)
	var cmds []map[string]any
	for i, c := range chans {
		cmds = append(cmds, map[string]any{"id": i + 1, "method": "subscribe", "params": map[string]string{"channel": c}})
	}
	var rep struct {
		Replies []struct {
			Result struct{ Grant string }
			Error  *struct{ Code int }
		}
	}
	post("command", map[string]any{"session": conn.Session, "commands": cmds}, &rep)
	grants := make([]string, len(chans))
	for i, r := range rep.Replies {
		if r.Error != nil {
			t.Fatalf("subscribe %s: %+v", chans[i], r.Error)
		}
		grants[i] = r.Result.Grant
	}
	return conn.Session, grants
}

func grantQuery(session string, grants ...string) string {
	kv := []string{"session", session}
	for _, g := range grants {
		kv = append(kv, "grant", g)
	}
	return q(kv...)
}

func expectRefused(t *testing.T, s *testServer, query string, status, code int) {
	t.Helper()
	st, got, body := s.trySSE(query, nil)
	if st != nil {
		t.Fatalf("stream opened, want %d", status)
	}
	if got != status {
		t.Fatalf("status %d (%s), want %d", got, body, status)
	}
	if e := decode[errorReply](t, body); e.Error.Code != code {
		t.Fatalf("code %d, want %d", e.Error.Code, code)
	}
}

func TestLimits(t *testing.T) {
	t.Parallel()
	t.Run("connections per IP", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(o *Options, _ *structure.Project) { o.Limits.ConnectionsPerIP = 2 })
		tok := s.token("u")
		a := s.openSSE(q("token", tok, "channel", "a"), nil)
		s.openSSE(q("token", tok, "channel", "b"), nil)
		expectRefused(t, s, q("token", tok, "channel", "c"), 429, 106)
		if got := refusals(t, s, "connections_per_ip"); got != 1 {
			t.Fatalf("refusal metric = %v", got)
		}
		// The open streams keep being served; closing one frees a slot.
		a.next("sub")
		s.publish("a", map[string]int{"n": 1})
		a.next("pub")
		a.close()
		waitFor(t, func() bool { st, _, _ := s.trySSE(q("token", tok, "channel", "d"), nil); return st != nil })
	})
	t.Run("streams per client", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(o *Options, _ *structure.Project) { o.Limits.StreamsPerClient = 1 })
		session, grants := limitSession(t, s, "u", "a", "b")
		s.openSSE(grantQuery(session, grants[0]), nil)
		expectRefused(t, s, grantQuery(session, grants[1]), 429, 106)
		// Another client is not affected.
		session2, grants2 := limitSession(t, s, "u", "b")
		s.openSSE(grantQuery(session2, grants2[0]), nil)
	})
	t.Run("channels per client", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(o *Options, _ *structure.Project) { o.Limits.ChannelsPerClient = 3 })
		session, grants := limitSession(t, s, "u", "a", "b", "c", "d")
		s.openSSE(grantQuery(session, grants[0], grants[1]), nil)
		expectRefused(t, s, grantQuery(session, grants[2], grants[3]), 429, 106)
		s.openSSE(grantQuery(session, grants[2]), nil)
	})
	t.Run("channels per stream", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(o *Options, _ *structure.Project) { o.ChannelsPerStream = 2 })
		tok := s.token("u")
		expectRefused(t, s, q("token", tok, "channel", "a", "channel", "b", "channel", "c"), 400, 106)
		if got := refusals(t, s, "channels_per_stream"); got != 1 {
			t.Fatalf("refusal metric = %v", got)
		}
		s.openSSE(q("token", tok, "channel", "a", "channel", "b"), nil)
	})
	t.Run("publish rate", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(o *Options, _ *structure.Project) { o.Limits.PublishRate = 1 })
		session, _ := limitSession(t, s, "u")
		codes := []int{}
		for range 3 {
			var rep struct {
				Replies []struct {
					Error *struct{ Code int }
				}
			}
			b, _ := json.Marshal(map[string]any{"session": session, "commands": []any{
				map[string]any{"id": 1, "method": "publish", "params": map[string]any{"channel": "pub:x", "data": 1}}}})
			resp, err := http.Post(s.url+"/connection/p/command", "application/json", bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			_ = json.NewDecoder(resp.Body).Decode(&rep)
			resp.Body.Close()
			code := 0
			if rep.Replies[0].Error != nil {
				code = rep.Replies[0].Error.Code
			}
			codes = append(codes, code)
		}
		if codes[0] != 0 || codes[2] != 110 {
			t.Fatalf("publish codes %v, want first ok and a 110", codes)
		}
	})
	t.Run("message size", func(t *testing.T) {
		t.Parallel()
		s := startServer(t, func(o *Options, _ *structure.Project) { o.MaxBody = 1024 })
		req, _ := http.NewRequest(http.MethodPost, s.url+"/api/publish",
			strings.NewReader(`{"channel":"a","data":"`+strings.Repeat("x", 8000)+`"}`))
		req.Header.Set("Authorization", "apikey p-api-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("status %d, want 413", resp.StatusCode)
		}
		var rep struct{ Error *struct{ Code int } }
		s.api("publish", map[string]any{"channel": "a", "data": strings.Repeat("x", 2000)}, &rep)
		if rep.Error == nil || rep.Error.Code != 106 {
			t.Fatalf("data over the limit: %+v", rep.Error)
		}
	})
}

// TestRequestID: every answer carries an id, a proxy's sane id is kept,
// and log lines written with the request's context carry it.
func TestRequestID(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var mu sync.Mutex
	log := slog.New(requestid.LogHandler(slog.NewJSONHandler(&lockedWriter{w: &logs, mu: &mu}, nil)))
	s := startServer(t, func(o *Options, _ *structure.Project) { o.Logger = log })
	h := requestid.Middleware(s.handler)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, c := range []struct{ sent, want string }{{"", ""}, {"proxy-id-42", "proxy-id-42"}, {"bad id\twith tab", ""}} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/connection/nope/connect", strings.NewReader(`{}`))
		if c.sent != "" {
			req.Header.Set(requestid.Header, c.sent)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get(requestid.Header)
		if got == "" || (c.want != "" && got != c.want) || (c.want == "" && got == c.sent) {
			t.Fatalf("sent %q, got id %q", c.sent, got)
		}
	}
	// A logged failure carries the id: a project lookup error is logged
	// with the request's context.
	ctx := requestid.NewContext(context.Background(), "abc123")
	s.node.log.WarnContext(ctx, "probe")
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), `"request_id":"abc123"`) {
		t.Fatalf("log lacks request_id: %s", logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// refusals reads rotor_limit_refusals_total{limit} from the node's
// metrics, as a scrape would.
func refusals(t *testing.T, s *testServer, limit string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.node.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "rotor_limit_refusals_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "limit" && l.GetValue() == limit {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
