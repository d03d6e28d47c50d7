package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cookieName is the admin session cookie.
const cookieName = "rotor_admin"

// sessions issues and checks signed session values: "id.expiry.mac", where
// mac is HMAC-SHA256 over "id.expiry". Nothing is stored for a live
// session; logging out records the id until it would have expired anyway.
type sessions struct {
	key []byte
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	revoked map[string]time.Time // id → expiry
}

func newSessions(key []byte, ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{key: key, ttl: ttl, now: now, revoked: map[string]time.Time{}}
}

func (s *sessions) mac(payload string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// issue returns a new session value and its expiry.
func (s *sessions) issue() (string, time.Time) {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand doc)
	exp := s.now().Add(s.ttl)
	payload := base64.RawURLEncoding.EncodeToString(b) + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + s.mac(payload), exp
}

// check returns the session's id if v is a valid, unexpired, not revoked
// session value.
func (s *sessions) check(v string) (string, bool) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return "", false
	}
	payload, mac := v[:i], v[i+1:]
	if !hmac.Equal([]byte(mac), []byte(s.mac(payload))) {
		return "", false
	}
	id, expStr, ok := strings.Cut(payload, ".")
	if !ok {
		return "", false
	}
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil || !s.now().Before(time.Unix(exp, 0)) {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, gone := s.revoked[id]; gone {
		return "", false
	}
	return id, true
}

// revoke ends a session before its expiry (logout).
func (s *sessions) revoke(v string) {
	id, ok := s.check(v)
	if !ok {
		return
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, exp := range s.revoked {
		if now.After(exp) {
			delete(s.revoked, k)
		}
	}
	s.revoked[id] = now.Add(s.ttl)
}
