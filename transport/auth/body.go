package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureHeader is the header carrying the signature of calls to
// auth_url, publish_hook_url and events_hook_url (docs/security.md, Hook
// and auth_url signatures).
const SignatureHeader = "X-Rotor-Signature"

// TimestampHeader is the header carrying the Unix time, in seconds, at
// which such a call was signed. The signature covers it, so a verifier can
// refuse a captured call replayed later.
const TimestampHeader = "X-Rotor-Timestamp"

const signaturePrefix = "sha256="

// maxTimestampDigits bounds the timestamp header: 12 decimal digits is far
// beyond any real Unix time and keeps parsing trivial.
const maxTimestampDigits = 12

// SignBody returns "sha256=<hex HMAC-SHA256(secret, body)>", keyed by the
// project secret itself so apps can check it with any HMAC library. Rotor
// no longer sends it (see SignTimestamped); it stays for callers that
// verify calls from older servers.
func SignBody(secret []byte, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// SignTimestamped returns "sha256=<hex HMAC-SHA256(secret, timestamp + "." +
// body)>": the X-Rotor-Signature of a call whose X-Rotor-Timestamp is
// timestamp (decimal Unix seconds).
func SignTimestamped(secret []byte, timestamp string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(timestampedMAC(secret, timestamp, body))
}

func timestampedMAC(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyBodySignature reports whether header is SignBody(secret, body),
// comparing in constant time. It accepts a call without a timestamp, so a
// captured call verifies for ever: use it only for servers that do not
// send X-Rotor-Timestamp.
func VerifyBodySignature(secret, body []byte, header string) bool {
	got, ok := parseSignature(secret, header)
	if !ok {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(m.Sum(nil), got)
}

// VerifyTimestampedSignature reports whether timestamp is a decimal Unix
// time and header is SignTimestamped(secret, timestamp, body), comparing in
// constant time. How old the timestamp may be is the caller's policy.
func VerifyTimestampedSignature(secret, body []byte, timestamp, header string) bool {
	if !IsTimestamp(timestamp) {
		return false
	}
	got, ok := parseSignature(secret, header)
	if !ok {
		return false
	}
	return hmac.Equal(timestampedMAC(secret, timestamp, body), got)
}

// IsTimestamp reports whether s is 1 to 12 decimal digits, the only form
// of X-Rotor-Timestamp a verifier accepts (no sign, no spaces).
func IsTimestamp(s string) bool {
	if len(s) == 0 || len(s) > maxTimestampDigits {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseSignature decodes "sha256=<hex>"; ok is false for any other form
// and when there is no secret to check it with.
func parseSignature(secret []byte, header string) ([]byte, bool) {
	h, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(secret) == 0 {
		return nil, false
	}
	got, err := hex.DecodeString(h)
	return got, err == nil
}
