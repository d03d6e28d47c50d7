package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// Key-derivation labels. Sessions and grants are signed under different
// keys so that one can never be replayed as the other, and neither under
// the raw secret, which also signs hook bodies.
const (
	sessionLabel = "rotor/session/v1"
	grantLabel   = "rotor/grant/v1"
)

// deriveKey returns HMAC-SHA256(secret, label).
func deriveKey(secret []byte, label string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	return m.Sum(nil)
}

// b64 is unpadded base64url: URL-, header- and cookie-safe (RFC 6265
// cookie-octets exclude neither '-', '_' nor '.').
// Decoding is strict, so each string has exactly one encoding and no
// character can be changed without changing the bytes.
var b64 = base64.RawURLEncoding.Strict()

// sealJSON returns base64url(json(v)) + "." + base64url(HMAC(key, first part)).
// The MAC covers the encoded payload, exactly the bytes that travel, so no
// canonical form of the JSON is ever needed.
func sealJSON(key []byte, v any) (string, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode payload: %w", err)
	}
	body := b64.EncodeToString(payload)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return body + "." + b64.EncodeToString(m.Sum(nil)), nil
}

// openJSON checks the MAC of a sealed string and only then decodes its
// payload into v, refusing unknown fields and trailing data. It returns a
// short description of the problem, or "" when s is genuine.
func openJSON(key []byte, s string, maxLen int, v any) string {
	if s == "" {
		return "empty"
	}
	if len(s) > maxLen {
		return "too long"
	}
	body, sig, ok := strings.Cut(s, ".")
	if !ok || body == "" || strings.Contains(sig, ".") {
		return "malformed"
	}
	mac, err := b64.DecodeString(sig)
	// The decoder skips CR and LF, so only the canonical encoding is
	// accepted: one sealed value has exactly one spelling.
	if err != nil || len(mac) != sha256.Size || b64.EncodeToString(mac) != sig {
		return "malformed signature"
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	if !hmac.Equal(m.Sum(nil), mac) {
		return "bad signature"
	}
	// From here on the payload is the server's own work.
	payload, err := b64.DecodeString(body)
	if err != nil {
		return "malformed payload"
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return "malformed payload"
	}
	return ""
}
