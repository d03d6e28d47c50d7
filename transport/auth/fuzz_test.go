package auth

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// checkErr fails unless err is nil or a 101/109 protocol error.
func checkErr(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *pubsub.Error
	if !errors.As(err, &pe) || (pe.Code != pubsub.CodeUnauthorized && pe.Code != pubsub.CodeTokenExpired) {
		t.Fatalf("unexpected error %v (%T)", err, err)
	}
}

func FuzzParseConnectionToken(f *testing.F) {
	good, _ := MintConnectionToken(testSecret, ConnectionClaims{User: "42", Expires: testNow.Add(time.Hour), Channels: []string{"a"}})
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add(hs256(`{"sub":"42","info":{"a":1}}`))
	f.Add(hs256(`{"sub":"42","channels":"x"}`))
	f.Add(rawJWT(`{"alg":"none"}`, `{"sub":"42"}`, nil, nil))
	f.Add(rawJWT(`{"alg":"RS256"}`, `{"sub":"42"}`, sha256.New, testSecret))
	f.Fuzz(func(t *testing.T, token string) {
		c, err := ParseConnectionToken(token, testSecret, testNow)
		checkErr(t, err)
		if err == nil {
			if c.User == "" {
				t.Fatal("accepted with no user")
			}
			// Whatever verifies must have been signed with the secret: it
			// re-verifies under it and under no other.
			if _, err := ParseConnectionToken(token, otherSecret, testNow); err == nil {
				t.Fatal("verifies under two secrets")
			}
		}
	})
}

func FuzzVerifySession(f *testing.F) {
	good, _ := SignSession(testSecret, testSession())
	f.Add(good)
	f.Add("")
	f.Add(".")
	f.Add("e30.AAAA")
	f.Add(good[:len(good)-3])
	f.Fuzz(func(t *testing.T, s string) {
		got, err := VerifySession(testSecret, "demo", s, testNow)
		checkErr(t, err)
		if err == nil {
			// Only the server can produce a verifying string: resigning
			// what was read must give back the same string.
			again, err := SignSession(testSecret, *got)
			if err != nil || again != s {
				t.Fatalf("verified %q, which the server would sign as %q (%v)", s, again, err)
			}
		}
	})
}

func FuzzVerifyGrant(f *testing.F) {
	good, _ := SignGrant(testSecret, testGrant())
	session, _ := SignSession(testSecret, testSession())
	f.Add(good)
	f.Add(session)
	f.Add("")
	f.Add("x.y")
	f.Add(good + good)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := VerifyGrant(testSecret, "demo", "c-123", s, testNow)
		checkErr(t, err)
		if err == nil {
			again, err := SignGrant(testSecret, *got)
			if err != nil || again != s {
				t.Fatalf("verified %q, which the server would sign as %q (%v)", s, again, err)
			}
		}
	})
}
