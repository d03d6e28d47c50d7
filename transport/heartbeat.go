package transport

import (
	"context"
	"sync"
	"time"
)

// heartbeatSlices is how many ticks of the node's heartbeat ticker make one
// ping interval. A stream is due once it has been quiet for
// (slices-2)/slices of the interval; the tick that finds it comes at most
// one slice later, so no stream is silent for longer than
// (slices-1)/slices of the interval, whenever its last write happened: the
// spare slice absorbs a late tick and the time a write takes. One ticker at
// a whole interval, pinging streams quiet for most of it, left gaps of
// almost two intervals.
const heartbeatSlices = 5

// heartbeats pings quiet streams from one ticker, instead of a timer or a
// goroutine per stream: the ticker runs every 1/heartbeatSlices of the ping
// interval and marks each stream that wrote nothing for the rest of the
// interval, which keeps proxies' read timeouts from closing a quiet stream
// and lets clients that read the server's clock notice a held stream. The
// same tick ends the streams whose end (session expiry, stream lifetime)
// has come, so a stream ends one slice late at most.
type heartbeats struct {
	mu    sync.Mutex
	conns map[*sseConn]struct{}
	// trailing: clock streams that wrote events without a ping since the
	// last trail tick; each gets one at the next (see stampClock).
	trailing map[*sseConn]struct{}
}

func newHeartbeats() *heartbeats {
	return &heartbeats{conns: make(map[*sseConn]struct{}), trailing: make(map[*sseConn]struct{})}
}

// trail asks for a ping on sc at the next trail tick, within clockEvery/2.
// The stream's flag keeps a busy stream from taking the node-wide lock on
// every write: once per tick at most.
func (h *heartbeats) trail(sc *sseConn) {
	if !sc.trailing.CompareAndSwap(false, true) {
		return
	}
	h.mu.Lock()
	h.trailing[sc] = struct{}{}
	h.mu.Unlock()
}

func (h *heartbeats) add(sc *sseConn) {
	h.mu.Lock()
	h.conns[sc] = struct{}{}
	h.mu.Unlock()
}

func (h *heartbeats) remove(sc *sseConn) {
	h.mu.Lock()
	delete(h.conns, sc)
	delete(h.trailing, sc)
	h.mu.Unlock()
}

// run ticks until ctx is done; ping is the longest silence a stream may
// have on the wire. A second ticker, every clockEvery/2, pings the clock
// streams that wrote events since its last tick: only those, so an idle
// stream costs it nothing.
func (h *heartbeats) run(ctx context.Context, ping time.Duration) {
	slice := ping / heartbeatSlices
	tick := time.NewTicker(slice)
	defer tick.Stop()
	trailTick := time.NewTicker(min(clockEvery, ping) / 2)
	defer trailTick.Stop()
	var due, ending []*sseConn
	for {
		select {
		case <-ctx.Done():
			return
		case <-trailTick.C:
			due = due[:0]
			h.mu.Lock()
			for sc := range h.trailing {
				sc.trailing.Store(false)
				due = append(due, sc)
			}
			clear(h.trailing)
			h.mu.Unlock()
			for _, sc := range due {
				sc.pingDue.Store(true)
				sc.schedule()
			}
			clear(due)
		case now := <-tick.C:
			quiet := now.Add(-(ping - 2*slice)).UnixNano()
			due, ending = due[:0], ending[:0]
			h.mu.Lock()
			for sc := range h.conns {
				if sc.endAt != 0 && sc.endAt <= now.UnixNano() {
					sc.endAt = 0
					ending = append(ending, sc)
				} else if sc.lastWrite.Load() <= quiet {
					due = append(due, sc)
				}
			}
			h.mu.Unlock()
			for _, sc := range ending {
				sc.st.End(sc.endReason)
			}
			for _, sc := range due {
				sc.pingDue.Store(true)
				sc.schedule()
			}
			clear(due)
			clear(ending)
		}
	}
}
