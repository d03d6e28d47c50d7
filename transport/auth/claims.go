package auth

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/tidwall/gjson"
)

// connectionWire is connectionJWT without its UnmarshalJSON: the
// reflective decoding the fast path falls back to.
type connectionWire connectionJWT

// UnmarshalJSON decodes a connection token's claims for golang-jwt's
// parser, which still checks the algorithm, the signature and the time
// claims. Claims of the usual shape (the registered ones as strings and
// integer times, info, channels) are read with gjson, without reflection;
// anything else (escapes, a key in another case, a fractional time, aud
// as a list) goes through encoding/json, so both decode every token
// alike (FuzzConnectionClaims). BenchmarkParseConnectionToken: 3.7 to
// 3.3 us/op, 47 to 40 allocs/op; what remains is golang-jwt's own header
// decoding into a map, base64 and HMAC. data is valid JSON: encoding/json
// checks it before calling.
func (c *connectionJWT) UnmarshalJSON(data []byte) error {
	if decodeConnectionClaims(data, c) {
		return nil
	}
	*c = connectionJWT{}
	return json.Unmarshal(data, (*connectionWire)(c))
}

// connectionClaimNames are the keys connectionJWT decodes.
var connectionClaimNames = []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "info", "channels", "channel"}

// decodeConnectionClaims fills c from data and reports true, or reports
// false when data needs encoding/json's decoding.
func decodeConnectionClaims(data []byte, c *connectionJWT) bool {
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return false
	}
	ok := true
	root.ForEach(func(k, v gjson.Result) bool {
		ok = c.claim(k, v)
		return ok
	})
	return ok
}

// claim sets one claim; false when it needs encoding/json.
func (c *connectionJWT) claim(k, v gjson.Result) bool {
	name, ok := plainString(k)
	if !ok || !isASCII(name) {
		return false
	}
	switch name {
	case "iss":
		c.Issuer, ok = plainString(v)
	case "sub":
		c.Subject, ok = plainString(v)
	case "jti":
		c.ID, ok = plainString(v)
	case "aud":
		var aud string
		aud, ok = plainString(v)
		c.Audience = jwt.ClaimStrings{aud}
	case "exp":
		c.ExpiresAt, ok = integerDate(v)
	case "nbf":
		c.NotBefore, ok = integerDate(v)
	case "iat":
		c.IssuedAt, ok = integerDate(v)
	case "info":
		c.Info = json.RawMessage(v.Raw)
	case "channels":
		c.Channels, ok = plainStrings(v)
	case "channel":
		// Only its presence counts; null is absence, as for encoding/json.
		c.Channel = nil
		if v.Type != gjson.Null {
			raw := json.RawMessage(v.Raw)
			c.Channel = &raw
		}
	default:
		// encoding/json matches keys without regard to case.
		for _, n := range connectionClaimNames {
			if strings.EqualFold(n, name) {
				return false
			}
		}
	}
	return ok
}

// plainString returns a JSON string's value when it has no escape and is
// valid UTF-8, so that its bytes are its value.
func plainString(v gjson.Result) (string, bool) {
	if v.Type != gjson.String || len(v.Raw) < 2 {
		return "", false
	}
	s := v.Raw[1 : len(v.Raw)-1]
	if strings.IndexByte(s, '\\') >= 0 || !utf8.ValidString(s) {
		return "", false
	}
	return s, true
}

// plainStrings decodes null or an array of plain strings.
func plainStrings(v gjson.Result) ([]string, bool) {
	if v.Type == gjson.Null {
		return nil, true
	}
	if !v.IsArray() {
		return nil, false
	}
	out, ok := []string{}, true
	v.ForEach(func(_, e gjson.Result) bool {
		var s string
		s, ok = plainString(e)
		out = append(out, s)
		return ok
	})
	return out, ok
}

// integerDate decodes a time claim written as whole seconds, as
// jwt.NumericDate does.
func integerDate(v gjson.Result) (*jwt.NumericDate, bool) {
	if v.Type != gjson.Number || len(v.Raw) == 0 || len(v.Raw) > 15 {
		return nil, false
	}
	var n int64
	for i := 0; i < len(v.Raw); i++ {
		d := v.Raw[i]
		if d < '0' || d > '9' {
			return nil, false
		}
		n = n*10 + int64(d-'0')
	}
	return jwt.NewNumericDate(time.Unix(n, 0)), true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
