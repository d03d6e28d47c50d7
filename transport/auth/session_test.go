package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func testSession() Session {
	return Session{
		Project: "demo",
		Client:  "c-123",
		User:    "42",
		Info:    json.RawMessage(`{"name":"Ann"}`),
		Issued:  testNow.Add(-time.Minute),
		Expires: testNow.Add(time.Hour),
	}
}

func TestSessionRoundTrip(t *testing.T) {
	t.Parallel()
	in := testSession()
	s, err := SignSession(testSecret, in)
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}); i >= 0 {
		t.Fatalf("session %q has an unsafe character at %d", s, i)
	}
	got, err := VerifySession(testSecret, "demo", s, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.Project != in.Project || got.Client != in.Client || got.User != in.User ||
		string(got.Info) != string(in.Info) || !got.Issued.Equal(in.Issued) || !got.Expires.Equal(in.Expires) {
		t.Fatalf("got %+v, want %+v", got, in)
	}
	anon := Session{Project: "demo", Client: "c", Expires: testNow.Add(time.Second)}
	s, err = SignSession(testSecret, anon)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := VerifySession(testSecret, "demo", s, testNow); err != nil || got.User != "" || got.Info != nil {
		t.Fatalf("anonymous: %+v, %v", got, err)
	}
}

func TestVerifySessionRefuses(t *testing.T) {
	t.Parallel()
	good, err := SignSession(testSecret, testSession())
	if err != nil {
		t.Fatal(err)
	}
	grant, err := SignGrant(testSecret, Grant{Project: "demo", Channel: "a", Client: "c-123", Expires: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	body, mac, _ := strings.Cut(good, ".")
	// A payload re-signed with the raw secret instead of the derived key.
	rawKeyed, _ := sealJSON(testSecret, sessionWire{Project: "demo", Client: "c", Expires: testNow.Add(time.Hour).UnixMilli()})
	extraField, _ := sealJSON(deriveKey(testSecret, sessionLabel), map[string]any{"p": "demo", "c": "c", "exp": testNow.Add(time.Hour).UnixMilli(), "admin": true})
	noClient, _ := sealJSON(deriveKey(testSecret, sessionLabel), sessionWire{Project: "demo", Expires: testNow.Add(time.Hour).UnixMilli()})
	tests := []struct {
		name    string
		secret  []byte
		project string
		s       string
		now     time.Time
		code    int
	}{
		{"expired", testSecret, "demo", good, testNow.Add(time.Hour), pubsub.CodeTokenExpired},
		{"wrong project", testSecret, "other", good, testNow, pubsub.CodeUnauthorized},
		{"other secret", otherSecret, "demo", good, testNow, pubsub.CodeUnauthorized},
		{"no secret", nil, "demo", good, testNow, pubsub.CodeUnauthorized},
		{"expired and wrong project", testSecret, "other", good, testNow.Add(2 * time.Hour), pubsub.CodeUnauthorized},
		{"grant as session", testSecret, "demo", grant, testNow, pubsub.CodeUnauthorized},
		{"raw secret key", testSecret, "demo", rawKeyed, testNow, pubsub.CodeUnauthorized},
		{"unknown field", testSecret, "demo", extraField, testNow, pubsub.CodeUnauthorized},
		{"no client", testSecret, "demo", noClient, testNow, pubsub.CodeUnauthorized},
		{"empty", testSecret, "demo", "", testNow, pubsub.CodeUnauthorized},
		{"no dot", testSecret, "demo", body, testNow, pubsub.CodeUnauthorized},
		{"no mac", testSecret, "demo", body + ".", testNow, pubsub.CodeUnauthorized},
		{"no body", testSecret, "demo", "." + mac, testNow, pubsub.CodeUnauthorized},
		{"three parts", testSecret, "demo", good + ".x", testNow, pubsub.CodeUnauthorized},
		{"truncated", testSecret, "demo", good[:len(good)-1], testNow, pubsub.CodeUnauthorized},
		{"truncated body", testSecret, "demo", body[1:] + "." + mac, testNow, pubsub.CodeUnauthorized},
		{"padded mac", testSecret, "demo", good + "=", testNow, pubsub.CodeUnauthorized},
		{"std base64 mac", testSecret, "demo", body + "." + base64.StdEncoding.EncodeToString([]byte("x")), testNow, pubsub.CodeUnauthorized},
		{"huge", testSecret, "demo", huge, testNow, pubsub.CodeUnauthorized},
		{"jwt", testSecret, "demo", hs256(`{"sub":"42"}`), testNow, pubsub.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := VerifySession(tt.secret, tt.project, tt.s, tt.now)
			if got != nil {
				t.Fatalf("session returned: %+v", got)
			}
			wantCode(t, err, tt.code)
		})
	}
}

// TestSessionTamperEveryByte changes each byte of a session in turn: none
// of the results may verify.
func TestSessionTamperEveryByte(t *testing.T) {
	t.Parallel()
	good, err := SignSession(testSecret, testSession())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range tamperings(good) {
		if _, err := VerifySession(testSecret, "demo", bad, testNow); err == nil {
			t.Fatalf("tampered session %q still verifies", bad)
		}
	}
}

func TestSignSessionErrors(t *testing.T) {
	t.Parallel()
	base := testSession()
	tests := []struct {
		name   string
		secret []byte
		edit   func(*Session)
	}{
		{"no secret", nil, func(*Session) {}},
		{"no project", testSecret, func(s *Session) { s.Project = "" }},
		{"no client", testSecret, func(s *Session) { s.Client = "" }},
		{"no expiry", testSecret, func(s *Session) { s.Expires = time.Time{} }},
		{"bad info", testSecret, func(s *Session) { s.Info = json.RawMessage(`{`) }},
		{"huge info", testSecret, func(s *Session) { s.Info = json.RawMessage(`"` + huge + `"`) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := base
			tt.edit(&s)
			if _, err := SignSession(tt.secret, s); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
