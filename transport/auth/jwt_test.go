package auth

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func TestParseConnectionToken(t *testing.T) {
	t.Parallel()
	future := testNow.Add(time.Hour).Unix()
	past := testNow.Add(-time.Second).Unix()
	good := fmt.Sprintf(`{"sub":"42","exp":%d,"info":{"name":"Ann"},"channels":["a","ns:b"]}`, future)
	tests := []struct {
		name  string
		token string
		code  int    // 0: valid
		msg   string // substring of the error message
	}{
		{name: "valid", token: hs256(good)},
		{name: "valid without exp", token: hs256(`{"sub":"42"}`)},
		{name: "valid info null", token: hs256(`{"sub":"42","info":null}`)},
		{name: "unknown claims ignored", token: hs256(`{"sub":"42","iss":"app","aud":"x","iat":1}`)},
		{name: "expired", token: hs256(fmt.Sprintf(`{"sub":"42","exp":%d}`, past)), code: pubsub.CodeTokenExpired, msg: "token expired"},
		{name: "expired exactly now", token: hs256(fmt.Sprintf(`{"sub":"42","exp":%d}`, testNow.Unix())), code: pubsub.CodeTokenExpired},
		{name: "not yet valid", token: hs256(fmt.Sprintf(`{"sub":"42","nbf":%d}`, future)), code: pubsub.CodeUnauthorized, msg: "not valid yet"},
		{name: "expired and forged", token: rawJWT(`{"alg":"HS256"}`, fmt.Sprintf(`{"sub":"42","exp":%d}`, past), sha256.New, otherSecret), code: pubsub.CodeUnauthorized, msg: "signature"},
		{name: "alg none", token: rawJWT(`{"alg":"none","typ":"JWT"}`, good, nil, nil), code: pubsub.CodeUnauthorized, msg: "none"},
		{name: "alg None", token: rawJWT(`{"alg":"None"}`, good, nil, nil), code: pubsub.CodeUnauthorized},
		{name: "alg none with signature", token: rawJWT(`{"alg":"none"}`, good, sha256.New, testSecret), code: pubsub.CodeUnauthorized},
		{name: "no alg", token: rawJWT(`{"typ":"JWT"}`, good, sha256.New, testSecret), code: pubsub.CodeUnauthorized},
		{name: "HS512", token: rawJWT(`{"alg":"HS512"}`, good, sha512.New, testSecret), code: pubsub.CodeUnauthorized, msg: "HS512"},
		{name: "HS384", token: rawJWT(`{"alg":"HS384"}`, good, sha512.New384, testSecret), code: pubsub.CodeUnauthorized},
		{name: "RS256 header HMAC-signed", token: rawJWT(`{"alg":"RS256"}`, good, sha256.New, testSecret), code: pubsub.CodeUnauthorized, msg: "RS256"},
		{name: "ES256 header", token: rawJWT(`{"alg":"ES256"}`, good, sha256.New, testSecret), code: pubsub.CodeUnauthorized},
		{name: "bad signature", token: rawJWT(`{"alg":"HS256"}`, good, sha256.New, otherSecret), code: pubsub.CodeUnauthorized, msg: "signature"},
		{name: "signature stripped", token: strings.TrimRight(rawJWT(`{"alg":"HS256"}`, good, nil, nil), "."), code: pubsub.CodeUnauthorized},
		{name: "empty signature", token: rawJWT(`{"alg":"HS256"}`, good, nil, nil), code: pubsub.CodeUnauthorized},
		{name: "empty", token: "", code: pubsub.CodeUnauthorized, msg: "empty"},
		{name: "one part", token: "abc", code: pubsub.CodeUnauthorized, msg: "malformed"},
		{name: "two parts", token: "abc.def", code: pubsub.CodeUnauthorized, msg: "malformed"},
		{name: "four parts", token: hs256(good) + ".x", code: pubsub.CodeUnauthorized},
		{name: "dots only", token: "..", code: pubsub.CodeUnauthorized},
		{name: "bad base64", token: "!!!.@@@.###", code: pubsub.CodeUnauthorized, msg: "malformed"},
		{name: "header not JSON", token: rawJWT(`not json`, good, sha256.New, testSecret), code: pubsub.CodeUnauthorized},
		{name: "claims not JSON", token: hs256(`not json`), code: pubsub.CodeUnauthorized},
		{name: "claims an array", token: hs256(`["sub"]`), code: pubsub.CodeUnauthorized},
		{name: "huge", token: huge, code: pubsub.CodeUnauthorized, msg: "longer"},
		{name: "huge valid", token: hs256(`{"sub":"42","info":{"x":"` + strings.Repeat("a", MaxTokenSize) + `"}}`), code: pubsub.CodeUnauthorized, msg: "longer"},
		{name: "missing sub", token: hs256(`{"exp":` + fmt.Sprint(future) + `}`), code: pubsub.CodeUnauthorized, msg: "sub"},
		{name: "empty sub", token: hs256(`{"sub":""}`), code: pubsub.CodeUnauthorized, msg: "sub"},
		{name: "numeric sub", token: hs256(`{"sub":42}`), code: pubsub.CodeUnauthorized},
		{name: "exp a string", token: hs256(`{"sub":"42","exp":"soon"}`), code: pubsub.CodeUnauthorized},
		{name: "channels a string", token: hs256(`{"sub":"42","channels":"a"}`), code: pubsub.CodeUnauthorized},
		{name: "channels numbers", token: hs256(`{"sub":"42","channels":[1,2]}`), code: pubsub.CodeUnauthorized},
		{name: "info a string", token: hs256(`{"sub":"42","info":"x"}`), code: pubsub.CodeUnauthorized, msg: "info"},
		{name: "subscription token", token: hs256(`{"sub":"42","channel":"$a"}`), code: pubsub.CodeUnauthorized, msg: "subscription"},
		{name: "info an array", token: hs256(`{"sub":"42","info":[1]}`), code: pubsub.CodeUnauthorized, msg: "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseConnectionToken(tt.token, testSecret, testNow)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c.User != "42" {
					t.Fatalf("user %q", c.User)
				}
				return
			}
			if c != nil {
				t.Fatalf("claims returned with an error: %+v", c)
			}
			wantCode(t, err, tt.code)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("message %q does not mention %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestParseConnectionTokenFields(t *testing.T) {
	t.Parallel()
	exp := testNow.Add(time.Hour).Truncate(time.Second)
	in := ConnectionClaims{User: "u1", Expires: exp, Info: json.RawMessage(`{"name":"Ann"}`), Channels: []string{"a", "ns:$b"}}
	tok, err := MintConnectionToken(testSecret, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConnectionToken(tok, testSecret, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.User != in.User || !got.Expires.Equal(exp) || string(got.Info) != string(in.Info) || !slices.Equal(got.Channels, in.Channels) {
		t.Fatalf("got %+v, want %+v", got, in)
	}
	if _, err := ParseConnectionToken(tok, otherSecret, testNow); err == nil {
		t.Fatal("token verified under another secret")
	}
	if _, err := ParseConnectionToken(tok, nil, testNow); err == nil {
		t.Fatal("token verified with no secret")
	}
	noExp, err := MintConnectionToken(testSecret, ConnectionClaims{User: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err = ParseConnectionToken(noExp, testSecret, testNow.Add(100*365*24*time.Hour))
	if err != nil || !got.Expires.IsZero() || got.Info != nil || got.Channels != nil {
		t.Fatalf("no exp: %+v, %v", got, err)
	}
}

func TestMintConnectionTokenErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		secret []byte
		c      ConnectionClaims
	}{
		{"no user", testSecret, ConnectionClaims{}},
		{"no secret", nil, ConnectionClaims{User: "u"}},
		{"info not object", testSecret, ConnectionClaims{User: "u", Info: json.RawMessage(`[1]`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := MintConnectionToken(tt.secret, tt.c); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestParseSubscriptionToken(t *testing.T) {
	t.Parallel()
	future := testNow.Add(time.Hour).Unix()
	past := testNow.Add(-time.Minute).Unix()
	tests := []struct {
		name  string
		token string
		code  int
		msg   string
	}{
		{name: "valid", token: hs256(fmt.Sprintf(`{"sub":"42","channel":"ns:$a","exp":%d,"info":{"role":"x"}}`, future))},
		{name: "valid anonymous", token: hs256(`{"channel":"$a"}`)},
		{name: "expired", token: hs256(fmt.Sprintf(`{"sub":"42","channel":"$a","exp":%d}`, past)), code: pubsub.CodeTokenExpired},
		{name: "not yet valid", token: hs256(fmt.Sprintf(`{"sub":"42","channel":"$a","nbf":%d}`, future)), code: pubsub.CodeUnauthorized},
		{name: "alg none", token: rawJWT(`{"alg":"none"}`, `{"sub":"42","channel":"$a"}`, nil, nil), code: pubsub.CodeUnauthorized},
		{name: "HS512", token: rawJWT(`{"alg":"HS512"}`, `{"sub":"42","channel":"$a"}`, sha512.New, testSecret), code: pubsub.CodeUnauthorized},
		{name: "RS256 header", token: rawJWT(`{"alg":"RS256"}`, `{"sub":"42","channel":"$a"}`, sha256.New, testSecret), code: pubsub.CodeUnauthorized},
		{name: "bad signature", token: rawJWT(`{"alg":"HS256"}`, `{"sub":"42","channel":"$a"}`, sha256.New, otherSecret), code: pubsub.CodeUnauthorized},
		{name: "empty", token: "", code: pubsub.CodeUnauthorized},
		{name: "one part", token: "x", code: pubsub.CodeUnauthorized},
		{name: "two parts", token: "x.y", code: pubsub.CodeUnauthorized},
		{name: "bad base64", token: "*.*.*", code: pubsub.CodeUnauthorized},
		{name: "huge", token: huge, code: pubsub.CodeUnauthorized},
		{name: "missing channel", token: hs256(`{"sub":"42"}`), code: pubsub.CodeUnauthorized, msg: "channel"},
		{name: "channel a number", token: hs256(`{"sub":"42","channel":5}`), code: pubsub.CodeUnauthorized},
		{name: "channel a list", token: hs256(`{"sub":"42","channel":["$a"]}`), code: pubsub.CodeUnauthorized},
		{name: "info not object", token: hs256(`{"sub":"42","channel":"$a","info":true}`), code: pubsub.CodeUnauthorized, msg: "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseSubscriptionToken(tt.token, testSecret, testNow)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !strings.HasSuffix(c.Channel, "$a") {
					t.Fatalf("channel %q", c.Channel)
				}
				return
			}
			wantCode(t, err, tt.code)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("message %q does not mention %q", err.Error(), tt.msg)
			}
		})
	}
}

func TestSubscriptionTokenRoundTrip(t *testing.T) {
	t.Parallel()
	in := SubscriptionClaims{User: "42", Channel: "ns:$a", Expires: testNow.Add(time.Minute), Info: json.RawMessage(`{"r":1}`)}
	tok, err := MintSubscriptionToken(testSecret, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseSubscriptionToken(tok, testSecret, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.User != in.User || got.Channel != in.Channel || !got.Expires.Equal(in.Expires) || string(got.Info) != string(in.Info) {
		t.Fatalf("got %+v, want %+v", got, in)
	}
	// Neither kind passes as the other.
	if _, err := ParseConnectionToken(tok, testSecret, testNow); err == nil {
		t.Fatal("subscription token accepted as a connection token")
	}
	conn, _ := MintConnectionToken(testSecret, ConnectionClaims{User: "42"})
	if _, err := ParseSubscriptionToken(conn, testSecret, testNow); err == nil {
		t.Fatal("connection token accepted as a subscription token")
	}
	if _, err := MintSubscriptionToken(testSecret, SubscriptionClaims{User: "42"}); err == nil {
		t.Fatal("minted a subscription token with no channel")
	}
}
