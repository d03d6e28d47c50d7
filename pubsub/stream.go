package pubsub

import (
	"sync"
)

// Queued is one item of a stream's queue: a shared message and the index,
// in the stream's channel list, of the channel it belongs to.
type Queued struct {
	Msg  *Message
	Chan int
}

// DefaultQueueBytes bounds a stream's queue when StreamOptions leaves it 0.
const DefaultQueueBytes = 1 << 20

// StreamOptions describe a stream when it is created.
type StreamOptions struct {
	Project, Client, User string
	// QueueBytes bounds the bytes waiting to be written; on overflow the
	// stream is ended with DisconnectSlow. 0 means DefaultQueueBytes.
	QueueBytes int
}

// Stream is one consumer of the hub: an SSE response or a long poll. The
// hub appends to its bounded queue without ever blocking; the transport
// that owns the stream drains the queue and writes it out.
type Stream struct {
	hub  *Hub
	opts StreamOptions

	// keys lists the stream's channels in order; regs[i] is the slot of
	// keys[i] in its channel's subscriber list (guarded by that channel's
	// shard lock), -1 when not registered.
	keys []string
	regs []int

	mu       sync.Mutex
	onReady  func()
	queue    []Queued
	bytes    int
	notify   chan struct{}
	done     chan struct{}
	reason   *Disconnect
	closed   bool
	resync   bool
	unsubbed []int // channel indexes the server unsubscribed, not yet taken
}

// Project, Client and User identify the stream's owner.
func (s *Stream) Project() string { return s.opts.Project }

// Client returns the client id of the stream's owner.
func (s *Stream) Client() string { return s.opts.Client }

// User returns the user id of the stream's owner ("" for anonymous).
func (s *Stream) User() string { return s.opts.User }

// Keys returns the stream's channel keys in order. Do not modify.
func (s *Stream) Keys() []string { return s.keys }

// Ready is signalled when the queue has something to take. It has a
// buffer of one: a receive means "look again", not "one message".
func (s *Stream) Ready() <-chan struct{} { return s.notify }

// Done is closed when the server ends the stream (slow consumer, revoked
// session, shutdown); Reason then says why.
func (s *Stream) Done() <-chan struct{} { return s.done }

// Reason returns why the server ended the stream, or nil.
func (s *Stream) Reason() *Disconnect {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason
}

// Take moves what is queued into buf (reusing its storage) and returns it,
// with resync set when the stream must check its channels against history
// and unsub listing channels the server unsubscribed it from. The queue is
// empty afterwards.
func (s *Stream) Take(buf []Queued) (items []Queued, resync bool, unsub []int) {
	s.mu.Lock()
	items = append(buf[:0], s.queue...)
	clear(s.queue)
	s.queue = s.queue[:0]
	s.bytes = 0
	resync, s.resync = s.resync, false
	unsub, s.unsubbed = s.unsubbed, nil
	s.mu.Unlock()
	return items, resync, unsub
}

// SetNotify makes the stream call f, instead of signalling Ready, when
// there is something to take or the stream ended. f must not block: a
// transport without a goroutine per stream schedules its writer from it.
func (s *Stream) SetNotify(f func()) {
	s.mu.Lock()
	s.onReady = f
	s.mu.Unlock()
}

// Pending reports whether Take would return something, or the stream has
// ended.
func (s *Stream) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0 || s.resync || len(s.unsubbed) > 0 || s.closed
}

// signal wakes the writer without blocking.
func (s *Stream) signal() {
	s.mu.Lock()
	f := s.onReady
	s.mu.Unlock()
	s.wake(f)
}

// deliver queues m for channel index ch; on overflow it ends the stream as
// a slow consumer. It never blocks beyond the stream's own short lock.
func (s *Stream) deliver(m *Message, ch int) {
	size := m.size()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if s.bytes+size > s.opts.QueueBytes && len(s.queue) > 0 {
		s.mu.Unlock()
		s.hub.metrics.slow.Add(1)
		s.end(DisconnectSlowReason)
		return
	}
	s.queue = append(s.queue, Queued{Msg: m, Chan: ch})
	s.bytes += size
	f := s.onReady
	s.mu.Unlock()
	s.wake(f)
}

// wake calls the notify function f (read under s.mu) or signals Ready.
func (s *Stream) wake(f func()) {
	if f != nil {
		f()
		return
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Stream) markResync() {
	s.mu.Lock()
	if !s.closed {
		s.resync = true
	}
	s.mu.Unlock()
	s.signal()
}

func (s *Stream) markUnsub(ch int) {
	s.mu.Lock()
	if !s.closed {
		s.unsubbed = append(s.unsubbed, ch)
	}
	s.mu.Unlock()
	s.signal()
}

// end stops queueing and tells the owner, via Done, to send reason and
// close. The first reason wins. The stream stays registered until the
// owner calls Close.
func (s *Stream) end(reason *Disconnect) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.reason = reason
	clear(s.queue)
	s.queue = s.queue[:0]
	s.bytes = 0
	s.mu.Unlock()
	close(s.done)
	s.signal()
}

// End ends the stream from the outside (see Done).
func (s *Stream) End(reason *Disconnect) { s.end(reason) }

// Close unregisters the stream from the hub. The owner calls it once, when
// it stops writing, whatever the cause.
func (s *Stream) Close() {
	s.end(DisconnectNormalReason)
	s.hub.removeStream(s)
}
