package redis

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain silences go-redis's process-wide logger: the conformance suite
// through Sentinel opens many clients, each announcing the master it found.
func TestMain(m *testing.M) {
	SetLogger(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
