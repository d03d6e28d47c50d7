package transport

import (
	"context"
	"sync"
	"time"
)

// heartbeats pings idle hijacked streams from one ticker, instead of a
// timer per stream: every Ping interval, each stream that wrote nothing
// since the last tick gets a comment line (docs/protocol.md, SSE), which also keeps
// proxies from closing a quiet stream.
type heartbeats struct {
	mu    sync.Mutex
	conns map[*sseConn]struct{}
}

func newHeartbeats() *heartbeats {
	return &heartbeats{conns: make(map[*sseConn]struct{})}
}

func (h *heartbeats) add(sc *sseConn) {
	h.mu.Lock()
	h.conns[sc] = struct{}{}
	h.mu.Unlock()
}

func (h *heartbeats) remove(sc *sseConn) {
	h.mu.Lock()
	delete(h.conns, sc)
	h.mu.Unlock()
}

// run ticks until ctx is done.
func (h *heartbeats) run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var due []*sseConn
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			quiet := now.Add(-every * 9 / 10).UnixNano()
			due = due[:0]
			h.mu.Lock()
			for sc := range h.conns {
				if sc.lastWrite.Load() < quiet {
					due = append(due, sc)
				}
			}
			h.mu.Unlock()
			for _, sc := range due {
				sc.pingDue.Store(true)
				sc.schedule()
			}
			clear(due)
		}
	}
}
