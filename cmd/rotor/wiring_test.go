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
