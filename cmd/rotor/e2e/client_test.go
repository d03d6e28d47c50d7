package e2e

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// writeCert makes a self-signed ECDSA certificate for 127.0.0.1 and
// localhost in dir and returns the certificate and key file names.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "rotor e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// countingClient is an HTTP client that counts the TCP connections it
// dials, to prove that many streams share one HTTP/2 connection.
type countingClient struct {
	*http.Client
	dials atomic.Int32
}

// newH2Client returns a client that speaks HTTP/2 only: over TLS trusting
// the certificate in certFile, or cleartext (h2c, prior knowledge) when
// certFile is empty.
func newH2Client(t *testing.T, certFile string) *countingClient {
	t.Helper()
	c := &countingClient{}
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2: true,
		Protocols:         new(http.Protocols),
	}
	if certFile != "" {
		tr.TLSClientConfig = &tls.Config{RootCAs: certPool(t, certFile)}
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	c.Client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// newH1Client returns a client that speaks HTTP/1.1 only, over TLS
// trusting certFile (a browser behind an HTTP/1.1-only hop).
func newH1Client(t *testing.T, certFile string) *countingClient {
	t.Helper()
	c := &countingClient{}
	var d net.Dialer
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c.dials.Add(1)
			return d.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: certPool(t, certFile)},
		Protocols:       new(http.Protocols),
	}
	tr.Protocols.SetHTTP1(true)
	c.Client = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// token mints a connection token for user (docs/security.md).
func token(t *testing.T, user string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": user,
		"exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// streamURL is the inline-auth URL of an SSE stream or poll (docs/protocol.md, Streams).
func streamURL(base, kind, user string, t *testing.T, channels ...string) string {
	q := url.Values{"token": {token(t, user)}, "channel": channels}
	return fmt.Sprintf("%s/connection/%s/%s?%s", base, project, kind, q.Encode())
}

// publish sends data to channel with the server API and returns the offset.
func publish(ctx context.Context, c *http.Client, base, channel string, data any) (uint64, error) {
	body, err := json.Marshal(map[string]any{"channel": channel, "data": data})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/publish", strings.NewReader(string(body)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "apikey "+apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var reply struct {
		Result *struct {
			Offset uint64 `json:"offset"`
		} `json:"result"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&reply); err != nil {
		return 0, fmt.Errorf("publish: status %d: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || reply.Result == nil {
		return 0, fmt.Errorf("publish: status %d, error %+v", resp.StatusCode, reply.Error)
	}
	return reply.Result.Offset, nil
}

func mustPublish(t *testing.T, c *http.Client, base, channel string, data any) uint64 {
	t.Helper()
	off, err := publish(t.Context(), c, base, channel, data)
	if err != nil {
		t.Fatal(err)
	}
	return off
}

// event is one Server-Sent Event, or a comment line (Event ":").
type event struct {
	ID, Event, Data string
}

// sseStream reads one SSE response; its reader goroutine ends when the
// body ends or is closed.
type sseStream struct {
	resp   *http.Response
	events chan event
	cancel context.CancelFunc
	// lastSubID is for the test's own bookkeeping: the id of its sub event.
	lastSubID string
}

// openSSE GETs url and starts parsing the stream; lastID, when set, goes
// in Last-Event-ID. The stream is closed when the test ends.
func openSSE(t *testing.T, c *http.Client, rawURL, lastID string) *sseStream {
	t.Helper()
	s, err := dialSSE(t.Context(), c, rawURL, lastID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	return s
}

func dialSSE(ctx context.Context, c *http.Client, rawURL, lastID string) (*sseStream, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("open stream: status %d: %s", resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("open stream: Content-Type %q", ct)
	}
	s := &sseStream{resp: resp, events: make(chan event, 1024), cancel: cancel}
	go s.read()
	return s, nil
}

func (s *sseStream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// read parses the stream (WHATWG HTML §9.2.6, enough of it) until EOF.
func (s *sseStream) read() {
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev event
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Event != "" || len(data) > 0 {
				ev.Data = strings.Join(data, "\n")
				s.events <- ev
			}
			ev, data = event{}, nil
		case strings.HasPrefix(line, ":"):
			s.events <- event{Event: ":", Data: line[1:]}
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.ID = value
			case "event":
				ev.Event = value
			case "data":
				data = append(data, value)
			}
		}
	}
}

// next returns the next event that is not a comment, failing the test
// after timeout or at the end of the stream.
func (s *sseStream) next(t *testing.T, timeout time.Duration) event {
	t.Helper()
	ev, err := s.nextErr(timeout)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func (s *sseStream) nextErr(timeout time.Duration) (event, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-s.events:
			if !ok {
				return event{}, io.EOF
			}
			if ev.Event == ":" {
				continue
			}
			return ev, nil
		case <-timer.C:
			return event{}, fmt.Errorf("no SSE event in %s", timeout)
		}
	}
}

// expect returns the next event and checks its type.
func (s *sseStream) expect(t *testing.T, kind string) event {
	t.Helper()
	ev := s.next(t, 10*time.Second)
	if ev.Event != kind {
		t.Fatalf("got event %q (%s), want %q", ev.Event, ev.Data, kind)
	}
	return ev
}

// subData, pubData and disconnectData are the JSON of SSE events (docs/protocol.md, Events).
type subData struct {
	Channel   string `json:"channel"`
	Epoch     string `json:"epoch"`
	Offset    uint64 `json:"offset"`
	Recovered bool   `json:"recovered"`
}

type pubData struct {
	Channel string          `json:"channel"`
	Offset  uint64          `json:"offset"`
	Data    json.RawMessage `json:"data"`
}

type disconnectData struct {
	Code      int    `json:"code"`
	Reason    string `json:"reason"`
	Reconnect bool   `json:"reconnect"`
}

func decode[T any](t *testing.T, ev event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
		t.Fatalf("event %q: %v: %s", ev.Event, err, ev.Data)
	}
	return v
}

// pollReply is a long-poll answer (docs/protocol.md, Long poll).
type pollReply struct {
	Events []struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	} `json:"events"`
	ID string `json:"id"`
}

// poll GETs a long poll and checks the protocol major version of the
// answer when wantMajor is not 0.
func poll(t *testing.T, c *http.Client, rawURL string, wantMajor int) pollReply {
	t.Helper()
	r, err := pollErr(t.Context(), c, rawURL, wantMajor)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func pollErr(ctx context.Context, c *http.Client, rawURL string, wantMajor int) (pollReply, error) {
	var r pollReply
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return r, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return r, fmt.Errorf("poll: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return r, fmt.Errorf("poll: status %d: %s", resp.StatusCode, b)
	}
	if wantMajor != 0 && resp.ProtoMajor != wantMajor {
		return r, fmt.Errorf("poll answered over %s, want HTTP/%d", resp.Proto, wantMajor)
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return r, fmt.Errorf("poll: %w", err)
	}
	return r, nil
}
