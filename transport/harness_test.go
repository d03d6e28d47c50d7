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
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
)

// testSecret is the secret of every test project.
const testSecret = "test-secret-test-secret-test-secret-0123"

// testProject returns a project with namespaces covering the rules:
// default (history, presence, join/leave), pub (clients publish), nohist
// (history off), anon (anonymous clients), small (history of 3).
func testProject(id string) structure.Project {
	def := structure.DefaultNamespaceSettings("default")
	def.Presence, def.JoinLeave = true, true
	pub := structure.DefaultNamespaceSettings("pub")
	pub.Publish, pub.Presence, pub.JoinLeave = true, true, true
	nohist := structure.DefaultNamespaceSettings("nohist")
	nohist.HistorySize = 0
	anon := structure.DefaultNamespaceSettings("anon")
	anon.Anonymous, anon.Publish = true, true
	small := structure.DefaultNamespaceSettings("small")
	small.HistorySize = 3
	return structure.Project{
		ID: id, Name: id, Secret: testSecret, APIKey: id + "-api-key",
		DefaultNamespace: "default", Anonymous: true,
		Namespaces: []structure.Namespace{def, pub, nohist, anon, small},
	}
}

// testServer is a real node on a real loopback HTTP server.
type testServer struct {
	t    testing.TB
	node *Server
	srv  *httptest.Server
	url  string
	p    structure.Project
	// handler is the node's router, for tests that skip the network.
	handler http.Handler
}

type serverOption func(*Options, *structure.Project)

// startServer starts a node with the memory engine and one project "p".
func startServer(t testing.TB, opts ...serverOption) *testServer {
	t.Helper()
	p := testProject("p")
	mem := memory.New(memory.Options{})
	o := Options{Delivery: mem, Broker: mem, Presence: mem, Revoker: mem, Ping: time.Second, LeaveGrace: 200 * time.Millisecond, AdminAPIKey: "admin-key"}
	for _, f := range opts {
		f(&o, &p)
	}
	store, err := admin.NewStaticStore([]structure.Project{p, testProject("other")})
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
	return &testServer{t: t, node: n, srv: srv, url: srv.URL, p: p, handler: r}
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
	t      testing.TB
	resp   *http.Response
	events chan testEvent
	cancel context.CancelFunc
	lastID string
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

func decode[T any](t testing.TB, s string) T {
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
		fmt.Fprintf(&b, "%s=%s", kv[i], url.QueryEscape(kv[i+1]))
	}
	return b.String()
}

var shutdownReasonForTest = pubsubShutdown()

// post sends a JSON body (a []byte is sent as is) to path and returns the
// status, the body and the response.
func (s *testServer) post(path string, body any, header http.Header) (int, []byte, *http.Response) {
	s.t.Helper()
	b, ok := body.([]byte)
	if !ok {
		b, _ = json.Marshal(body)
	}
	req, _ := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, rb, resp
}

// wireError is the error object of the protocol.
type wireError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// connected is the answer of /connect.
type connected struct {
	Client  string                     `json:"client"`
	User    string                     `json:"user"`
	Session string                     `json:"session"`
	Expires int64                      `json:"expires"`
	Ping    int                        `json:"ping"`
	Subs    map[string]json.RawMessage `json:"subs"`
	Error   *wireError                 `json:"error"`
}

// connect connects with token ("" for anonymous) and fails unless 200.
func (s *testServer) connect(token string) connected {
	s.t.Helper()
	st, b, _ := s.post("/connection/p/connect", map[string]string{"token": token}, nil)
	if st != 200 {
		s.t.Fatalf("connect: status %d: %s", st, b)
	}
	var c connected
	if err := json.Unmarshal(b, &c); err != nil {
		s.t.Fatalf("decode connect %q: %v", b, err)
	}
	return c
}

// cmd is one command of a /command request.
type cmd struct {
	ID     uint64         `json:"id"`
	Method string         `json:"method"`
	Params map[string]any `json:"params,omitempty"`
}

// cmdReplyT is one reply of /command.
type cmdReplyT struct {
	ID     uint64          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *wireError      `json:"error"`
}

// commandStatus sends commands with session and returns the HTTP status,
// the replies and the top-level error, if any.
func (s *testServer) commandStatus(session string, cmds ...cmd) (int, []cmdReplyT, *wireError) {
	s.t.Helper()
	for i := range cmds {
		if cmds[i].ID == 0 {
			cmds[i].ID = uint64(i + 1)
		}
	}
	st, b, _ := s.post("/connection/p/command", map[string]any{"session": session, "commands": cmds}, nil)
	var out struct {
		Replies []cmdReplyT `json:"replies"`
		Error   *wireError  `json:"error"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("decode command reply %q: %v", b, err)
	}
	return st, out.Replies, out.Error
}

// command sends commands and fails unless the request answers 200 with one
// reply per command, in order.
func (s *testServer) command(session string, cmds ...cmd) []cmdReplyT {
	s.t.Helper()
	st, replies, e := s.commandStatus(session, cmds...)
	if st != 200 || len(replies) != len(cmds) {
		s.t.Fatalf("command: status %d, %d replies for %d commands, error %+v", st, len(replies), len(cmds), e)
	}
	for i := range cmds {
		if replies[i].ID != cmds[i].ID {
			s.t.Fatalf("reply %d has id %d, want %d", i, replies[i].ID, cmds[i].ID)
		}
	}
	return replies
}

// subscribed is the result of a subscribe command.
type subscribed struct {
	Grant       string `json:"grant"`
	Epoch       string `json:"epoch"`
	Offset      uint64 `json:"offset"`
	Recoverable bool   `json:"recoverable"`
}

// subscribe subscribes session to channel and returns the grant.
func (s *testServer) subscribe(session, channel string) string {
	s.t.Helper()
	r := s.command(session, cmd{Method: "subscribe", Params: map[string]any{"channel": channel}})[0]
	if r.Error != nil {
		s.t.Fatalf("subscribe %s: %+v", channel, r.Error)
	}
	return decode[subscribed](s.t, string(r.Result)).Grant
}

// pollEvent is one event of a poll answer.
type pollEvent struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// pollReply is a poll answer.
type pollReply struct {
	Events []pollEvent `json:"events"`
	ID     string      `json:"id"`
	Error  *wireError  `json:"error"`
}

// poll sends GET /poll with query and returns the status and the answer.
func (s *testServer) poll(query string) (int, pollReply) {
	s.t.Helper()
	resp, err := http.Get(s.url + "/connection/p/poll?" + query)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out pollReply
	if err := json.Unmarshal(b, &out); err != nil {
		s.t.Fatalf("decode poll answer %q (status %d): %v", b, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// backend is the app's backend: a real HTTP server that counts its calls
// and answers with handle.
type backend struct {
	srv   *httptest.Server
	url   string
	mu    sync.Mutex
	calls []backendCall
}

// backendCall is one request the backend received.
type backendCall struct {
	Body      []byte
	Signature string
	Timestamp string
}

// startBackend starts a backend answering with handle (which may sleep).
func startBackend(t *testing.T, handle func(n int, body []byte, w http.ResponseWriter)) *backend {
	b := &backend{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.calls = append(b.calls, backendCall{Body: body, Signature: r.Header.Get("X-Rotor-Signature"), Timestamp: r.Header.Get("X-Rotor-Timestamp")})
		n := len(b.calls)
		b.mu.Unlock()
		handle(n, body, w)
	}))
	b.url = b.srv.URL
	t.Cleanup(func() {
		b.srv.CloseClientConnections()
		b.srv.Close()
	})
	return b
}

// callList returns a copy of the calls so far.
func (b *backend) callList() []backendCall {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]backendCall(nil), b.calls...)
}

// eventually polls cond every 10ms until it holds or 10s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// subEvent is the data of a `sub` event as a client reads it.
type subEvent struct {
	Channel   string `json:"channel"`
	Epoch     string `json:"epoch"`
	Offset    uint64 `json:"offset"`
	Recovered bool   `json:"recovered"`
}
