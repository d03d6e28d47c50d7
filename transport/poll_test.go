package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/requestid"
)

// withHistory sets the history size of every namespace of project p.
func withHistory(size int) serverOption {
	return func(_ *Options, p *structure.Project) {
		for i := range p.Namespaces {
			p.Namespaces[i].HistorySize = size
		}
	}
}

func TestPollBasics(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.connect(s.token("u"))
	ga, gb := s.subscribe(c.Session, "a"), s.subscribe(c.Session, "pub:b")
	base := q("session", c.Session, "grant", ga, "grant", gb)

	// A first poll answers at once with the sub events and the id.
	st, first := s.poll(base + "&timeout=30")
	if st != 200 || len(first.Events) != 2 || first.Events[0].Event != "sub" || first.Events[1].Event != "sub" {
		t.Fatalf("first poll: %d %+v", st, first)
	}
	if parts := strings.Split(first.ID, "."); len(parts) != 2 || !strings.HasSuffix(parts[0], ":0") {
		t.Fatalf("id %q, want epoch:0.epoch:0", first.ID)
	}
	// Nothing new: the timeout answers no events and the same id.
	st, idle := s.poll(base + "&timeout=1&since=" + first.ID)
	if st != 200 || len(idle.Events) != 0 || idle.ID != first.ID {
		t.Fatalf("idle poll: %d %+v", st, idle)
	}
	// A publication answers a waiting poll.
	done := make(chan pollReply)
	go func() {
		_, r := s.poll(base + "&timeout=30&since=" + first.ID)
		done <- r
	}()
	s.publish("pub:b", map[string]int{"n": 1})
	got := <-done
	if len(got.Events) != 1 || got.Events[0].Event != "pub" || got.ID == first.ID {
		t.Fatalf("poll after publish: %+v", got)
	}
	if p := decode[pubData](t, string(got.Events[0].Data)); p.Channel != "pub:b" || p.Data.N != 1 {
		t.Fatalf("pub = %s", got.Events[0].Data)
	}
	if !strings.HasSuffix(got.ID, ":1") {
		t.Fatalf("id after pub:b offset 1 = %q", got.ID)
	}
	for _, bad := range []string{"timeout=x", "since=garbage", "since=" + first.ID + ".e:1"} {
		if st, r := s.poll(base + "&" + bad); st != 400 || r.Error == nil || r.Error.Code != 107 {
			t.Errorf("poll with %s: %d %+v, want 400 code 107", bad, st, r)
		}
	}
}

// TestSwitchSSEPoll: subscribers switch SSE → poll → SSE over and over
// while 1,000 numbered messages are published to each of two channels;
// each sees 1..1000 once and in order in both.
func TestSwitchSSEPoll(t *testing.T) {
	t.Parallel()
	s := startServer(t, withHistory(2000))
	const msgs, subs = 1000, 3
	chans := []string{"news", "pub:room"}
	// Each subscriber starts from the positions its subscribe answered,
	// as a stream id (epoch:offset, joined by "." in channel order), so
	// nothing published between subscribe and the first stream is lost.
	type sub struct{ query, since string }
	var all []sub
	for range subs {
		c := s.connect(s.token("u"))
		r := s.command(c.Session,
			cmd{Method: "subscribe", Params: map[string]any{"channel": chans[0]}},
			cmd{Method: "subscribe", Params: map[string]any{"channel": chans[1]}})
		a, b := decode[subscribed](t, string(r[0].Result)), decode[subscribed](t, string(r[1].Result))
		all = append(all, sub{
			query: q("session", c.Session, "grant", a.Grant, "grant", b.Grant),
			since: fmt.Sprintf("%s:%d.%s:%d", a.Epoch, a.Offset, b.Epoch, b.Offset),
		})
	}
	var wg sync.WaitGroup
	for i, sb := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			got := map[string]int{}
			total := func() int { return got[chans[0]] + got[chans[1]] }
			take := func(raw string) bool {
				var p pubData
				if err := json.Unmarshal([]byte(raw), &p); err != nil {
					t.Errorf("sub %d: decode %q: %v", i, raw, err)
					return false
				}
				if p.Data.N != got[p.Channel]+1 {
					t.Errorf("sub %d: %s: got n=%d after %d", i, p.Channel, p.Data.N, got[p.Channel])
					return false
				}
				got[p.Channel]++
				return true
			}
			checkSub := func(raw string) bool {
				if sv := decode[subEvent](t, raw); !sv.Recovered {
					t.Errorf("sub %d: not recovered: %s", i, raw)
					return false
				}
				return true
			}
			since := sb.since
			for round := 0; total() < 2*msgs; round++ {
				// SSE for a while.
				query := sb.query
				if since != "" {
					query += "&since=" + since
				}
				st := s.openSSE(query, nil)
				for range 2 {
					if !checkSub(st.next("sub").Data) {
						return
					}
				}
				for n := 20 + rng.IntN(200); n > 0 && total() < 2*msgs; n-- {
					if !take(st.next("pub").Data) {
						return
					}
				}
				since = st.lastID
				st.close()
				// Then poll a few times.
				for n := 1 + rng.IntN(3); n > 0 && total() < 2*msgs; n-- {
					code, r := s.poll(sb.query + "&timeout=5&since=" + since)
					if code != 200 {
						t.Errorf("sub %d: poll %d %+v", i, code, r)
						return
					}
					for _, ev := range r.Events {
						switch ev.Event {
						case "pub":
							if !take(string(ev.Data)) {
								return
							}
						case "sub":
							if !checkSub(string(ev.Data)) {
								return
							}
						}
					}
					since = r.ID
				}
			}
			for _, ch := range chans {
				if got[ch] != msgs {
					t.Errorf("sub %d: %s: %d messages, want %d", i, ch, got[ch], msgs)
				}
			}
		}()
	}
	for n := 1; n <= msgs; n++ {
		for _, ch := range chans {
			s.publish(ch, map[string]int{"n": n})
		}
	}
	wg.Wait()
}

// TestPollRoute: GET /connection/{project}/poll, which routePolls serves
// ahead of the route tree, answers as the tree's route and after the
// router's middleware (the request id); every other form of the path is
// left to the tree.
func TestPollRoute(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	r := chi.NewRouter()
	r.Use(requestid.Middleware)
	s.node.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	query := "?" + q("token", s.token("u"), "channel", "a", "timeout", "0")
	tests := []struct {
		name, method, path, origin string
		status                     int
	}{
		{"poll", "GET", "/connection/p/poll", "", 200},
		{"same origin", "GET", "/connection/p/poll", srv.URL, 200},
		{"refused origin", "GET", "/connection/p/poll", "https://evil.example", 403},
		{"unknown project", "GET", "/connection/nope/poll", "", 404},
		{"escaped project", "GET", "/connection/%70/poll", "", 404},
		{"empty project", "GET", "/connection//poll", "", 404},
		{"deeper path", "GET", "/connection/p/x/poll", "", 405},
		{"trailing slash", "GET", "/connection/p/poll/", "", 405},
		{"HEAD", "HEAD", "/connection/p/poll", "", 405},
		{"POST", "POST", "/connection/p/poll", "", 405},
		{"preflight", "OPTIONS", "/connection/p/poll", srv.URL, 204},
	}
	for _, tt := range tests {
		req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.origin != "" {
			req.Header.Set("Origin", tt.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || resp.Header.Get(requestid.Header) == "" {
			t.Errorf("%s: %d %s=%q %q, want %d and a request id", tt.name, resp.StatusCode, requestid.Header, resp.Header.Get(requestid.Header), body, tt.status)
		}
		if tt.path == "/connection/p/poll" && tt.method == "GET" {
			var reply pollReply
			if err := json.Unmarshal(body, &reply); err != nil || resp.Header.Get("Vary") != "Origin" {
				t.Errorf("%s: %q Vary=%q, want a poll answer and Vary: Origin", tt.name, body, resp.Header.Get("Vary"))
			}
			if tt.status == 200 && (reply.ID == "" || len(reply.Events) != 1 || reply.Events[0].Event != "sub") {
				t.Errorf("%s: %q, want the sub event and an id", tt.name, body)
			}
		}
	}
}
