package web

import (
	"testing"
	"time"
)

func TestLoginLimiterRefills(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := newLoginLimiter(func() time.Time { return now })
	for range loginBurst {
		if l.blocked("1.2.3.4") {
			t.Fatal("blocked before the burst was used")
		}
		l.failed("1.2.3.4")
	}
	if !l.blocked("1.2.3.4") {
		t.Fatal("not blocked after the burst")
	}
	if l.blocked("5.6.7.8") {
		t.Fatal("another address is blocked too")
	}
	now = now.Add(loginEvery)
	if l.blocked("1.2.3.4") {
		t.Fatal("still blocked after a refill interval")
	}
}

func TestSessionExpires(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	s := newSessions([]byte("k"), time.Hour, func() time.Time { return now })
	v, _ := s.issue()
	if _, ok := s.check(v); !ok {
		t.Fatal("fresh session refused")
	}
	if _, ok := s.check(v[:len(v)-1] + "x"); ok {
		t.Fatal("tampered session accepted")
	}
	other := newSessions([]byte("other key"), time.Hour, func() time.Time { return now })
	if _, ok := other.check(v); ok {
		t.Fatal("session signed with another key accepted")
	}
	now = now.Add(time.Hour)
	if _, ok := s.check(v); ok {
		t.Fatal("expired session accepted")
	}
}
