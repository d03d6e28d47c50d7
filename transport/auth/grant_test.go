package auth

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func testGrant() Grant {
	return Grant{
		Project:  "demo",
		Channel:  "ns:$secret",
		Client:   "c-123",
		User:     "42",
		ChanInfo: json.RawMessage(`{"role":"mod"}`),
		Expires:  testNow.Add(time.Hour),
	}
}

func TestGrantRoundTrip(t *testing.T) {
	t.Parallel()
	in := testGrant()
	s, err := SignGrant(testSecret, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyGrant(testSecret, "demo", "c-123", s, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.Project != in.Project || got.Channel != in.Channel || got.Client != in.Client || got.User != in.User ||
		string(got.ChanInfo) != string(in.ChanInfo) || !got.Expires.Equal(in.Expires) {
		t.Fatalf("got %+v, want %+v", got, in)
	}
}

func TestVerifyGrantRefuses(t *testing.T) {
	t.Parallel()
	good, err := SignGrant(testSecret, testGrant())
	if err != nil {
		t.Fatal(err)
	}
	// The same fields signed as a session: the keys differ, so it fails.
	session, err := SignSession(testSecret, Session{Project: "demo", Client: "c-123", User: "42", Expires: testNow.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	sessionKeyed, _ := sealJSON(deriveKey(testSecret, sessionLabel), grantWire{Project: "demo", Channel: "a", Client: "c-123", Expires: testNow.Add(time.Hour).UnixMilli()})
	body, mac, _ := strings.Cut(good, ".")
	tests := []struct {
		name    string
		secret  []byte
		project string
		client  string
		s       string
		now     time.Time
		code    int
	}{
		{"expired", testSecret, "demo", "c-123", good, testNow.Add(time.Hour), pubsub.CodeTokenExpired},
		{"wrong project", testSecret, "other", "c-123", good, testNow, pubsub.CodeUnauthorized},
		{"wrong client", testSecret, "demo", "c-999", good, testNow, pubsub.CodeUnauthorized},
		{"empty client", testSecret, "demo", "", good, testNow, pubsub.CodeUnauthorized},
		{"other secret", otherSecret, "demo", "c-123", good, testNow, pubsub.CodeUnauthorized},
		{"no secret", nil, "demo", "c-123", good, testNow, pubsub.CodeUnauthorized},
		{"session as grant", testSecret, "demo", "c-123", session, testNow, pubsub.CodeUnauthorized},
		{"grant payload under session key", testSecret, "demo", "c-123", sessionKeyed, testNow, pubsub.CodeUnauthorized},
		{"empty", testSecret, "demo", "c-123", "", testNow, pubsub.CodeUnauthorized},
		{"no dot", testSecret, "demo", "c-123", body + mac, testNow, pubsub.CodeUnauthorized},
		{"truncated", testSecret, "demo", "c-123", good[:len(good)/2], testNow, pubsub.CodeUnauthorized},
		{"huge", testSecret, "demo", "c-123", huge, testNow, pubsub.CodeUnauthorized},
		{"jwt", testSecret, "demo", "c-123", hs256(`{"sub":"42","channel":"a"}`), testNow, pubsub.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := VerifyGrant(tt.secret, tt.project, tt.client, tt.s, tt.now)
			if got != nil {
				t.Fatalf("grant returned: %+v", got)
			}
			wantCode(t, err, tt.code)
		})
	}
}

func TestGrantTamperEveryByte(t *testing.T) {
	t.Parallel()
	good, err := SignGrant(testSecret, testGrant())
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range tamperings(good) {
		if _, err := VerifyGrant(testSecret, "demo", "c-123", bad, testNow); err == nil {
			t.Fatalf("tampered grant %q still verifies", bad)
		}
	}
}

func TestSignGrantErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret []byte
		edit   func(*Grant)
	}{
		{"no secret", nil, func(*Grant) {}},
		{"no project", testSecret, func(g *Grant) { g.Project = "" }},
		{"no channel", testSecret, func(g *Grant) { g.Channel = "" }},
		{"no client", testSecret, func(g *Grant) { g.Client = "" }},
		{"no expiry", testSecret, func(g *Grant) { g.Expires = time.Time{} }},
		{"bad info", testSecret, func(g *Grant) { g.ChanInfo = json.RawMessage(`{"a":`) }},
		{"info over 1 KiB", testSecret, func(g *Grant) {
			g.ChanInfo = json.RawMessage(`{"x":"` + strings.Repeat("a", MaxGrantChanInfo) + `"}`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := testGrant()
			tt.edit(&g)
			if _, err := SignGrant(tt.secret, g); err == nil {
				t.Fatal("no error")
			}
		})
	}
	// The largest allowed grant still verifies (maxGrantSize is big enough).
	g := testGrant()
	g.Channel = strings.Repeat("c", 255)
	g.Client = strings.Repeat("i", 64)
	g.User = strings.Repeat("u", 255)
	g.ChanInfo = json.RawMessage(`{"x":"` + strings.Repeat("a", MaxGrantChanInfo-8) + `"}`)
	s, err := SignGrant(testSecret, g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyGrant(testSecret, "demo", g.Client, s, testNow); err != nil {
		t.Fatalf("largest grant (%d bytes): %v", len(s), err)
	}
}
