package longpoll

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/transport/gopool"
)

// Answer writes the answer of a poll, sink's events and st's id, and
// takes st over: parked under k (when parkable) before the answer goes
// out, so that the client's next poll finds it, or else closed.
func (p *Parking) Answer(w http.ResponseWriter, st *node.Stream, sink *Sink, k Key, parkable bool) {
	// w copies what it is given: the answer is put together in a pooled
	// buffer, one poll after the other.
	outp := answerBufs.Get().(*[]byte)
	defer func() {
		if cap(*outp) <= maxParkedBuf {
			answerBufs.Put(outp)
		}
	}()
	out := (*outp)[:0]
	out = append(out, `{"events":[`...)
	out = append(out, sink.Buf...)
	out = append(out, `],"id":`...)
	since := string(st.ID())
	out = appendJSONString(out, since)
	out = append(out, "}\n"...)
	st.Delivered()
	if !parkable || !p.Put(k, since, st, sink) {
		st.Close()
	}
	// From here on st may be another poll's.
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
	*outp = out
}

// appendJSONString appends s as encoding/json encodes it: a stream id is
// printable ASCII that needs no escape, and is copied as it is.
func appendJSONString(out []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(out, b...)
		}
	}
	out = append(out, '"')
	out = append(out, s...)
	return append(out, '"')
}

// answerBufs holds *[]byte buffers for Answer.
var answerBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Wait waits, with no goroutine of its own, until st has events for
// sink or timeout passes: the hub's notification or the timer runs
// answer once, with nil or the error that ended the wait (history could
// not be read to fill a gap; ctx bounds that read). The function Wait
// returns is for the caller to run when the client leaves (h1's OnGone):
// if nothing has answered by then, gone runs instead. Either way st is
// theirs from then on; Wait's caller must not touch it.
func Wait(ctx context.Context, st *node.Stream, sink *Sink, timeout time.Duration, answer func(error), gone func()) (left func()) {
	w := &waiter{ctx: ctx, st: st, sink: sink, answer: answer, gone: gone}
	w.mu.Lock()
	w.timer = time.AfterFunc(timeout, w.expire)
	st.SetNotify(w.notify)
	w.mu.Unlock()
	if st.Pending() {
		w.notify()
	}
	return w.leave
}

// waiter is one poll waiting for events.
type waiter struct {
	ctx    context.Context
	st     *node.Stream
	sink   *Sink
	answer func(error)
	gone   func()
	timer  *time.Timer

	scheduled atomic.Bool
	mu        sync.Mutex
	over      bool
}

// notify runs where the hub delivers: it must not block.
func (w *waiter) notify() {
	if w.scheduled.CompareAndSwap(false, true) {
		go w.step()
	}
}

// step takes what the hub queued and answers once there are events. It
// runs on a goroutine of its own, whose stack the answer (parking the
// stream, writing to the socket) grows: grown at once, it is copied with
// one frame on it, not with a dozen.
func (w *waiter) step() {
	gopool.GrowStack()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.scheduled.Store(false)
	if w.over {
		return
	}
	select {
	case <-w.st.Done():
		w.st.Disconnected()
	default:
		if err := w.st.Drain(w.ctx); err != nil {
			w.end()
			w.answer(err)
			return
		}
	}
	if w.sink.N > 0 {
		w.end()
		w.answer(nil)
	}
}

func (w *waiter) expire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.over {
		w.end()
		w.answer(nil)
	}
}

func (w *waiter) leave() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.over {
		w.end()
		w.gone()
	}
}

// end stops every way in; the stream signals its Ready channel again.
func (w *waiter) end() {
	w.over = true
	w.timer.Stop()
	w.st.SetNotify(nil)
}

// WaitHere waits in the caller's goroutine (a poll over HTTP/2, or one
// that may not take its connection over) until sink has events or wait
// passes. It reports whether to answer: false when the client left or
// history could not be read to fill a gap (err, for a 503).
func WaitHere(ctx context.Context, st *node.Stream, sink *Sink, wait time.Duration) (answer bool, err error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for sink.N == 0 {
		select {
		case <-ctx.Done():
			return false, nil
		case <-timer.C:
			return true, nil
		case <-st.Done():
			st.Disconnected()
		case <-st.Ready():
			if err := st.Drain(ctx); err != nil {
				return false, err
			}
		}
	}
	return true, nil
}

// Poll timeouts in seconds (docs/protocol.md, Long poll).
const (
	DefaultTimeout = 25
	MaxTimeout     = 60
)

// ParseTimeout reads a poll's timeout parameter in seconds: the default
// when empty, at most MaxTimeout; false when it is not a number of
// seconds.
func ParseTimeout(s string) (int, bool) {
	if s == "" {
		return DefaultTimeout, true
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, false
	}
	return min(v, MaxTimeout), true
}
