package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef-test")
	otherSecret = []byte("another-secret-another-secret-another")
	testNow     = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

// rawJWT builds a token from literal header and claims JSON, signed with
// HMAC over h (nil: no signature, as alg none does).
func rawJWT(header, claims string, h func() hash.Hash, key []byte) string {
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	if h == nil {
		return s + "."
	}
	m := hmac.New(h, key)
	m.Write([]byte(s))
	return s + "." + enc.EncodeToString(m.Sum(nil))
}

func hs256(claims string) string {
	return rawJWT(`{"alg":"HS256","typ":"JWT"}`, claims, sha256.New, testSecret)
}

// wantCode checks err is a *pubsub.Error with code.
func wantCode(t *testing.T, err error, code int) {
	t.Helper()
	var pe *pubsub.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *pubsub.Error", err, err)
	}
	if pe.Code != code {
		t.Fatalf("code %d (%q), want %d", pe.Code, pe.Message, code)
	}
}

// tamperings returns every string made by replacing one byte of s with
// another base64url character or a separator.
func tamperings(s string) []string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.="
	var out []string
	for i := range len(s) {
		for _, c := range []byte(alphabet) {
			if c != s[i] {
				out = append(out, s[:i]+string(c)+s[i+1:])
			}
		}
	}
	return out
}

var huge = strings.Repeat("a", 100<<10)
