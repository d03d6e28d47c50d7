package web

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

func TestLoginLimiterRefills(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := newLoginLimiter(func() time.Time { return now })
	for i := range loginBurst {
		if _, ok := l.reserve("1.2.3.4"); !ok {
			t.Fatalf("refused at attempt %d, before the burst was used", i)
		}
	}
	if _, ok := l.reserve("1.2.3.4"); ok {
		t.Fatal("not refused after the burst")
	}
	if _, ok := l.reserve("5.6.7.8"); !ok {
		t.Fatal("another address is refused too")
	}
	now = now.Add(loginEvery)
	if _, ok := l.reserve("1.2.3.4"); !ok {
		t.Fatal("still refused after a refill interval")
	}
	if _, ok := l.reserve("1.2.3.4"); ok {
		t.Fatal("one interval gave more than one attempt")
	}
}

func TestLoginLimiterRefund(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := newLoginLimiter(func() time.Time { return now })
	// Right passwords give their slot back, later too, and only once.
	for range 3 * loginBurst {
		refund, ok := l.reserve("ip")
		if !ok {
			t.Fatal("a refunded attempt still counts")
		}
		now = now.Add(time.Second)
		refund()
		refund()
	}
	// A refund never lifts the bucket above the burst.
	for range loginBurst {
		if _, ok := l.reserve("ip"); !ok {
			t.Fatal("burst not available")
		}
	}
	if _, ok := l.reserve("ip"); ok {
		t.Fatal("more than the burst after refunds")
	}
}

func TestLoginLimitKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := limitKey(tc.ip); got != tc.want {
			t.Errorf("limitKey(%q) = %q, want %q", tc.ip, got, tc.want)
		}
	}
	// Addresses of one /64 share a bucket.
	l := newLoginLimiter(time.Now)
	for i := range loginBurst {
		if _, ok := l.reserve(fmt.Sprintf("2001:db8::%x", i+1)); !ok {
			t.Fatalf("refused at attempt %d", i)
		}
	}
	if _, ok := l.reserve("2001:db8::ffff"); ok {
		t.Fatal("a new address in the same /64 got a fresh bucket")
	}
}

func TestLoginLimiterBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	l := newLoginLimiter(func() time.Time { return now })
	if _, ok := l.reserve("victim"); !ok {
		t.Fatal("first attempt refused")
	}
	for i := range maxTracked + 100 {
		l.reserve(strconv.Itoa(i))
		l.reserve(strconv.Itoa(i)) // draining: nothing refills while now stands still
	}
	if len(l.m) > maxTracked {
		t.Fatalf("%d addresses tracked, want at most %d", len(l.m), maxTracked)
	}
	// Buckets that refilled go first.
	now = now.Add(loginBurst * loginEvery)
	l.reserve("newcomer")
	if len(l.m) != 1 {
		t.Fatalf("%d addresses tracked after all refilled, want 1", len(l.m))
	}
}

func TestCheckSlots(t *testing.T) {
	t.Parallel()
	s := make(checkSlots, 1)
	release, ok := s.acquire(t.Context())
	if !ok {
		t.Fatal("free slot refused")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, ok := s.acquire(ctx); ok {
		t.Fatal("a taken slot was given twice")
	}
	release()
	if release, ok := s.acquire(t.Context()); !ok {
		t.Fatal("released slot refused")
	} else {
		release()
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
