package hooks

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rotor-rt/rotor/transport/auth"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef-hooks")

// recorded is one call a test server received.
type recorded struct {
	body      []byte
	signature string
	timestamp string
	ctype     string
}

// hookServer is a real HTTP server that records calls and answers with
// answer(n, body), n counting calls from 1.
type hookServer struct {
	*httptest.Server
	mu    sync.Mutex
	calls []recorded
}

func newHookServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int, body []byte)) *hookServer {
	t.Helper()
	s := &hookServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		s.mu.Lock()
		s.calls = append(s.calls, recorded{body: body, signature: r.Header.Get(auth.SignatureHeader), timestamp: r.Header.Get(auth.TimestampHeader), ctype: r.Header.Get("Content-Type")})
		n := len(s.calls)
		s.mu.Unlock()
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		answer(w, r, n, body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *hookServer) recorded() []recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]recorded(nil), s.calls...)
}

// checkSigned fails unless every call was JSON signed with testSecret.
func (s *hookServer) checkSigned(t *testing.T) {
	t.Helper()
	for i, c := range s.recorded() {
		if !auth.VerifyTimestampedSignature(testSecret, c.body, c.timestamp, c.signature) {
			t.Errorf("call %d: signature %q does not verify", i+1, c.signature)
		}
		if c.ctype != "application/json" {
			t.Errorf("call %d: Content-Type %q", i+1, c.ctype)
		}
	}
}

func reply(body string) func(http.ResponseWriter, *http.Request, int, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}
}
