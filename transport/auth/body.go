package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// SignatureHeader is the header carrying a body signature on calls to
// auth_url, publish_hook_url and events_hook_url (docs/security.md).
const SignatureHeader = "X-Rotor-Signature"

const signaturePrefix = "sha256="

// SignBody returns "sha256=<hex HMAC-SHA256(secret, body)>", keyed by the
// project secret itself so apps can check it with any HMAC library.
func SignBody(secret []byte, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return signaturePrefix + hex.EncodeToString(m.Sum(nil))
}

// VerifyBodySignature reports whether header is SignBody(secret, body),
// comparing in constant time.
func VerifyBodySignature(secret, body []byte, header string) bool {
	h, ok := strings.CutPrefix(header, signaturePrefix)
	if !ok || len(secret) == 0 {
		return false
	}
	got, err := hex.DecodeString(h)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return hmac.Equal(m.Sum(nil), got)
}
