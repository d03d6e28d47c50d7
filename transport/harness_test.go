package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/transport/auth"
)

// testSecret is the secret of every test project.
const testSecret = "test-secret-test-secret-test-secret-0123"

// testProject returns a project with namespaces covering the rules:
// default (history, presence, join/leave), pub (clients publish), nohist
// (history off), anon (anonymous clients), small (history of 3).
func testProject(id string) admin.Project {
	def := admin.DefaultNamespaceSettings("default")
	def.Presence, def.JoinLeave = true, true
	pub := admin.DefaultNamespaceSettings("pub")
	pub.Publish, pub.Presence, pub.JoinLeave = true, true, true
	nohist := admin.DefaultNamespaceSettings("nohist")
	nohist.HistorySize = 0
	anon := admin.DefaultNamespaceSettings("anon")
	anon.Anonymous, anon.Publish = true, true
	small := admin.DefaultNamespaceSettings("small")
	small.HistorySize = 3
	return admin.Project{
		ID: id, Name: id, Secret: testSecret, APIKey: id + "-api-key",
		DefaultNamespace: "default", Anonymous: true,
		Namespaces: []admin.Namespace{def, pub, nohist, anon, small},
	}
}

// testServer is a real node on a real loopback HTTP server.
type testServer struct {
	t    *testing.T
	node *Node
	srv  *httptest.Server
	url  string
	p    admin.Project
}

type serverOption func(*Options, *admin.Project)

// startServer starts a node with the memory engine and one project "p".
func startServer(t *testing.T, opts ...serverOption) *testServer {
	t.Helper()
	p := testProject("p")
	o := Options{Engine: memory.New(memory.Options{}), Ping: time.Second, LeaveGrace: 200 * time.Millisecond, AdminAPIKey: "admin-key"}
	for _, f := range opts {
		f(&o, &p)
	}
	store, err := admin.NewStaticStore([]admin.Project{p, testProject("other")})
	if err != nil {
		t.Fatal(err)
	}
	o.Projects = store
	n, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	n.Routes(r)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		_ = n.Shutdown(context.Background(), nil)
		srv.CloseClientConnections()
		srv.Close()
		cancel()
	})
	return &testServer{t: t, node: n, srv: srv, url: srv.URL, p: p}
}

// token mints a connection token for user in project p.
func (s *testServer) token(user string) string {
	s.t.Helper()
	tok, err := auth.MintConnectionToken([]byte(testSecret), auth.ConnectionClaims{User: user, Expires: time.Now().Add(time.Hour)})
	if err != nil {
		s.t.Fatal(err)
	}
	return tok
}

// api calls the server API and decodes the reply into out (if not nil).
func (s *testServer) api(method string, body any, out any) int {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/"+method, bytes.NewReader(b))
	req.Header.Set("Authorization", "apikey p-api-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(rb, out); err != nil {
			s.t.Fatalf("decode %s reply %q: %v", method, rb, err)
		}
	}
	return resp.StatusCode
}

// publish publishes data through the server API and fails on error.
func (s *testServer) publish(channel string, data any) uint64 {
	s.t.Helper()
	var reply struct {
		Result struct{ Offset uint64 }
		Error  *struct{ Code int }
	}
	d, _ := json.Marshal(data)
	if st := s.api("publish", map[string]any{"channel": channel, "data": json.RawMessage(d)}, &reply); st != 200 || reply.Error != nil {
		s.t.Fatalf("publish to %s: status %d error %+v", channel, st, reply.Error)
	}
	return reply.Result.Offset
}

// testEvent is one parsed event of a stream.
type testEvent struct {
	ID    string
	Event string
	Data  string
}

// sseStream reads a live SSE response event by event.
type sseStream struct {
	t      *testing.T
	resp   *http.Response
	events chan testEvent
	cancel context.CancelFunc
	lastID string
	mu     sync.Mutex
}

// openSSE opens an SSE request and fails unless it answers 200.
func (s *testServer) openSSE(query string, header http.Header) *sseStream {
	s.t.Helper()
	st, status, body := s.trySSE(query, header)
	if st == nil {
		s.t.Fatalf("open SSE %s: status %d: %s", query, status, body)
	}
	return st
}

// trySSE opens an SSE request; on a non-200 answer it returns the status
// and body instead.
func (s *testServer) trySSE(query string, header http.Header) (*sseStream, int, string) {
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/connection/p/sse?"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, resp.StatusCode, string(b)
	}
	st := &sseStream{t: s.t, resp: resp, events: make(chan testEvent, 100000), cancel: cancel}
	go st.read()
	s.t.Cleanup(st.close)
	return st, 200, ""
}

func (st *sseStream) read() {
	defer close(st.events)
	sc := bufio.NewScanner(st.resp.Body)
	var ev testEvent
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Event != "" || len(data) > 0 {
				ev.Data = strings.Join(data, "\n")
				st.events <- ev
			}
			ev, data = testEvent{}, nil
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			ev.ID = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.Event = line[7:]
		case strings.HasPrefix(line, "data: "):
			data = append(data, line[6:])
		}
	}
}

func (st *sseStream) close() {
	st.cancel()
	st.resp.Body.Close()
}

// next returns the next event of one of the given kinds (any kind if none
// given), skipping others, or fails after a timeout.
func (st *sseStream) next(kinds ...string) testEvent {
	st.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-st.events:
			if !ok {
				st.t.Fatalf("stream ended while waiting for %v", kinds)
			}
			if ev.ID != "" {
				st.lastID = ev.ID
			}
			if len(kinds) == 0 || contains(kinds, ev.Event) {
				return ev
			}
		case <-timeout:
			st.t.Fatalf("no %v event within 10s", kinds)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pubData is the data of a pub event in tests.
type pubData struct {
	Channel string `json:"channel"`
	Offset  uint64 `json:"offset"`
	Data    struct {
		N int `json:"n"`
	} `json:"data"`
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func q(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		fmt.Fprintf(&b, "%s=%s", kv[i], kv[i+1])
	}
	return b.String()
}
