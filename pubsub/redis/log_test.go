package redis

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer that go-redis goroutines write to while
// the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSetLoggerJSON makes go-redis log (a Sentinel that does not answer)
// and checks that every line arrives as a JSON slog record. Not parallel:
// go-redis's logger is global.
func TestSetLoggerJSON(t *testing.T) {
	var buf lockedBuffer
	SetLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	t.Cleanup(func() { SetLogger(slog.New(slog.DiscardHandler)) })

	addr := freeLoopbackAddr(t)
	e, err := New(Options{URL: "redis-sentinel://" + addr + "/mymaster", Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	_ = e.Client().Ping(t.Context()).Err()

	deadline := time.Now().Add(5 * time.Second)
	for buf.String() == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out := strings.TrimSpace(buf.String())
	if out == "" {
		t.Fatal("go-redis logged nothing for an unreachable Sentinel")
	}
	for line := range strings.Lines(out) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON record: %q", line)
		}
		if rec["level"] != "WARN" || rec["component"] != "go-redis" || rec["msg"] == "" {
			t.Errorf("record = %v", rec)
		}
	}
}
