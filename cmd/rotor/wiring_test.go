package main

import "testing"

// TestDemoProjectOrigins: the dev-mode demo is used from the server's own
// /demo page, whose origin is always allowed; nothing else needs to reach
// it, so allowed_origins stays empty (not "*").
func TestDemoProjectOrigins(t *testing.T) {
	t.Parallel()
	if got := demoProject().AllowedOrigins; len(got) != 0 {
		t.Errorf("demo project allowed_origins = %q, want none", got)
	}
}

// TestClientStream: the connections transport/h1 serves from their first
// request are those that open a stream or a poll; a backend's API calls,
// the admin UI and anything else stay with net/http.
func TestClientStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method, target string
		want           bool
	}{
		{"GET", "/connection/p1/sse?token=x&channel=c", true},
		{"GET", "/connection/p1/sse", true},
		{"GET", "/connection/p1/poll?since=5", true},
		{"POST", "/connection/p1/sse", false},
		{"POST", "/api/publish", false},
		{"GET", "/admin/projects", false},
		{"GET", "/healthz", false},
		{"GET", "/sse", false},
		{"GET", "/connection/p1/ssex", false},
		{"GET", "/other?to=/connection/p1/sse", false},
	} {
		if got := clientStream(tc.method, tc.target); got != tc.want {
			t.Errorf("clientStream(%s %s) = %v, want %v", tc.method, tc.target, got, tc.want)
		}
	}
}
