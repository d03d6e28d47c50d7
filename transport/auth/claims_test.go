package auth

import (
	"encoding/json"
	"reflect"
	"testing"
)

// decodeBoth decodes claims with the gjson path (through encoding/json,
// as golang-jwt does) and with encoding/json alone.
func decodeBoth(t *testing.T, data string) (fast, slow connectionJWT, fastErr, slowErr error) {
	t.Helper()
	fastErr = json.Unmarshal([]byte(data), &fast)
	slowErr = json.Unmarshal([]byte(data), (*connectionWire)(&slow))
	return
}

func TestConnectionClaimsDecodeAlike(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims string
		fast   bool // the gjson path decodes it without falling back
	}{
		{"usual", `{"sub":"42","exp":1767225600,"iat":1767220000,"nbf":1767220000,"iss":"app","jti":"j1","aud":"rotor"}`, true},
		{"info and channels", `{"sub":"u","info":{"name":"Ann","n":[1,2]},"channels":["a","b"]}`, true},
		{"empty channels", `{"sub":"u","channels":[]}`, true},
		{"null channels", `{"sub":"u","channels":null}`, true},
		{"channel claim", `{"sub":"u","channel":"c"}`, true},
		{"null channel", `{"sub":"u","channel":null}`, true},
		{"channel then null", `{"sub":"u","channel":"c","channel":null}`, true},
		{"duplicate sub", `{"sub":"a","sub":"b"}`, true},
		{"unknown claims", `{"sub":"u","x":{"y":[1,"z"]},"role":"admin"}`, true},
		{"non-ASCII user", `{"sub":"Zoë"}`, true},
		{"escaped user", `{"sub":"a\u0041\n"}`, false},
		{"key in another case", `{"SUB":"a","Exp":1}`, false},
		{"fractional exp", `{"sub":"u","exp":1767225600.5}`, false},
		{"exp as exponent", `{"sub":"u","exp":1e9}`, false},
		{"negative exp", `{"sub":"u","exp":-1}`, false},
		{"null exp", `{"sub":"u","exp":null}`, false},
		{"aud as list", `{"sub":"u","aud":["a","b"]}`, false},
		{"sub as number", `{"sub":42}`, false},
		{"channels as string", `{"sub":"u","channels":"x"}`, false},
		{"channels with a number", `{"sub":"u","channels":["a",1]}`, false},
		{"not an object", `["sub"]`, false},
		{"null", `null`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c connectionJWT
			if got := decodeConnectionClaims([]byte(tc.claims), &c); got != tc.fast {
				t.Errorf("fast path = %v, want %v", got, tc.fast)
			}
			fast, slow, fastErr, slowErr := decodeBoth(t, tc.claims)
			if (fastErr == nil) != (slowErr == nil) {
				t.Fatalf("errors differ: %v vs %v", fastErr, slowErr)
			}
			if !reflect.DeepEqual(fast, slow) {
				t.Fatalf("decoded differently:\n%+v\n%+v", fast, slow)
			}
		})
	}
}

// FuzzConnectionClaims checks that the gjson path decodes every JSON
// value exactly as encoding/json does.
func FuzzConnectionClaims(f *testing.F) {
	for _, s := range []string{
		`{"sub":"42","exp":1767225600,"info":{"a":1},"channels":["a"]}`,
		`{"sub":"a\u00e9","aud":"x","channel":null,"Channel":1}`,
		`{"exp":12345678901234567890,"nbf":0,"iat":"1"}`,
		`{"channels":[],"info":null,"jti":""}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if !json.Valid([]byte(data)) {
			return
		}
		fast, slow, fastErr, slowErr := decodeBoth(t, data)
		if (fastErr == nil) != (slowErr == nil) {
			t.Fatalf("errors differ on %q: %v vs %v", data, fastErr, slowErr)
		}
		if fastErr == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("decoded %q differently:\n%+v\n%+v", data, fast, slow)
		}
	})
}
