package transport

import (
	"crypto/hmac"
	"crypto/md5" // Pusher's API signs the body's MD5; the HMAC is what authenticates.
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pusherMaxSkew is how far auth_timestamp may be from the server's clock,
// as in Pusher's API.
const pusherMaxSkew = 600 * time.Second

// checkPusherSignature verifies a request signed the way Pusher's HTTP API
// requires: auth_key, auth_timestamp (seconds, within 600 s), auth_version
// 1.0, body_md5 (hex MD5 of a non-empty body) and auth_signature, the hex
// HMAC-SHA256 with secret of "METHOD\nPATH\nQUERY", where QUERY is every
// query parameter but auth_signature as key=value (keys lower-cased, values
// unescaped) sorted by key and joined with "&". The error explains the
// refusal and is meant for the caller (HTTP 401).
func checkPusherSignature(method, path string, query url.Values, body []byte, key, secret string, now time.Time) error {
	if got := query.Get("auth_key"); got != key {
		return fmt.Errorf("unknown auth_key %q", got)
	}
	ts, err := strconv.ParseInt(query.Get("auth_timestamp"), 10, 64)
	if err != nil {
		return errors.New("missing or malformed auth_timestamp")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > pusherMaxSkew || d < -pusherMaxSkew {
		return fmt.Errorf("timestamp expired: Given timestamp (%d) not within %ds of server time (%d)",
			ts, int(pusherMaxSkew/time.Second), now.Unix())
	}
	if v := query.Get("auth_version"); v != "1.0" {
		return fmt.Errorf("unsupported auth_version %q: expected \"1.0\"", v)
	}
	if len(body) > 0 {
		sum := md5.Sum(body)
		if !strings.EqualFold(query.Get("body_md5"), hex.EncodeToString(sum[:])) {
			return errors.New("invalid body_md5: it is not the MD5 of the body")
		}
	}
	toSign := pusherStringToSign(method, path, query)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(toSign))
	want := mac.Sum(nil)
	got, err := hex.DecodeString(query.Get("auth_signature"))
	if err != nil || !hmac.Equal(got, want) {
		return fmt.Errorf("invalid signature: you should have sent HmacSHA256Hex(%q, your_secret_key), but you sent %q",
			toSign, query.Get("auth_signature"))
	}
	return nil
}

// pusherStringToSign builds the string Pusher's HTTP API signs.
func pusherStringToSign(method, path string, query url.Values) string {
	pairs := make([]string, 0, len(query))
	for k, vs := range query {
		lk := strings.ToLower(k)
		if lk == "auth_signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, lk+"="+v)
		}
	}
	// Sorting "key=value" strings orders by key first, except where one key
	// is a prefix of another; compare keys alone, as Pusher's libraries do.
	slices.SortStableFunc(pairs, func(a, b string) int {
		ka, _, _ := strings.Cut(a, "=")
		kb, _, _ := strings.Cut(b, "=")
		return strings.Compare(ka, kb)
	})
	return strings.ToUpper(method) + "\n" + path + "\n" + strings.Join(pairs, "&")
}
