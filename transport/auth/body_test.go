package auth

import (
	"strings"
	"testing"
)

func TestBodySignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"client":"c","user":"u","channels":["$a"]}`)
	sig := SignBody(testSecret, body)
	if !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("signature %q", sig)
	}
	tests := []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"valid", testSecret, body, sig, true},
		{"upper-case hex", testSecret, body, "sha256=" + strings.ToUpper(sig[7:]), true},
		{"other body", testSecret, []byte(`{}`), sig, false},
		{"other secret", otherSecret, body, sig, false},
		{"no secret", nil, body, SignBody(nil, body), false},
		{"no prefix", testSecret, body, sig[7:], false},
		{"sha1 prefix", testSecret, body, "sha1=" + sig[7:], false},
		{"truncated", testSecret, body, sig[:len(sig)-2], false},
		{"not hex", testSecret, body, "sha256=zz", false},
		{"empty", testSecret, body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := VerifyBodySignature(tt.secret, tt.body, tt.header); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSignBodyKnownAnswer pins the format against RFC 4231 test case 2.
func TestSignBodyKnownAnswer(t *testing.T) {
	t.Parallel()
	got := SignBody([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestTimestampedSignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"events":[]}`)
	const ts = "1764910800"
	sig := SignTimestamped(testSecret, ts, body)
	if sig == SignBody(testSecret, body) || !strings.HasPrefix(sig, "sha256=") || len(sig) != len("sha256=")+64 {
		t.Fatalf("signature %q", sig)
	}
	// The signed material is exactly "<timestamp>.<body>", what any HMAC
	// library computes from the two headers and the raw body.
	if want := SignBody(testSecret, []byte(ts+"."+string(body))); sig != want {
		t.Fatalf("SignTimestamped = %s, want HMAC of <ts>.<body> %s", sig, want)
	}
	tests := []struct {
		name      string
		secret    []byte
		body      []byte
		timestamp string
		header    string
		want      bool
	}{
		{"valid", testSecret, body, ts, sig, true},
		{"tampered timestamp", testSecret, body, "1764910801", sig, false},
		{"timestamp moved into the body", testSecret, []byte(ts + "." + string(body)), "", sig, false},
		{"no timestamp", testSecret, body, "", sig, false},
		{"signed timestamp with a sign", testSecret, body, "+1", SignTimestamped(testSecret, "+1", body), false},
		{"signed timestamp too long", testSecret, body, "1234567890123", SignTimestamped(testSecret, "1234567890123", body), false},
		{"other body", testSecret, []byte(`{}`), ts, sig, false},
		{"other secret", otherSecret, body, ts, sig, false},
		{"no secret", nil, body, ts, SignTimestamped(nil, ts, body), false},
		{"body-only signature", testSecret, body, ts, SignBody(testSecret, body), false},
		{"not hex", testSecret, body, ts, "sha256=zz", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := VerifyTimestampedSignature(tt.secret, tt.body, tt.timestamp, tt.header); got != tt.want {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}
