package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// SetLogger sends go-redis's own log lines (pool, reconnect and Sentinel
// notices, which it otherwise prints as plain text to stderr) to l, at
// warn level, so that a JSON log stays JSON. go-redis has one logger per
// process: the program calls this once at start.
func SetLogger(l *slog.Logger) {
	goredis.SetLogger(slogPrinter{l.With("component", "go-redis")})
}

// slogPrinter adapts slog to go-redis's Printf-style logging interface.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	p.l.WarnContext(ctx, strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}
