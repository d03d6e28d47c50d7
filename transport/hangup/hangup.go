// Package hangup tells when the peer of a connection that the server only
// writes to goes away (closes or resets it). On Linux one goroutine and one
// epoll set watch every such connection, where a goroutine blocked in Read
// on each would hold a stack per connection for as long as it is open;
// elsewhere, and for connections without a file descriptor (TLS), it is
// that goroutine.
package hangup

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
)

// Watch is one connection watched. Stop it before closing the connection.
type Watch struct {
	w  *Watcher // nil: a reading goroutine watches
	fd int
	id uint32
	// rc reads what the peer sent (a client may send bytes it should
	// not) when the watcher's set holds the connection.
	rc syscall.RawConn
	// keepData: what the peer sends stays unread (WatchClose).
	keepData bool
	// once: the callback runs once, and not after Stop.
	once     sync.Once
	onHangup func()
	stopped  atomic.Bool
}

// Stop ends the watch: the callback is not called after Stop returns
// (unless it was running already).
func (wt *Watch) Stop() {
	wt.stopped.Store(true)
	if wt.w != nil {
		wt.w.remove(wt)
	}
}

// fire calls the callback once, unless the watch is stopped.
func (wt *Watch) fire() {
	if wt.stopped.Load() {
		return
	}
	wt.once.Do(wt.onHangup)
}

// watchByReading is the portable way: a goroutine reads and discards
// until the connection fails or ends.
func watchByReading(c net.Conn, onHangup func()) *Watch {
	wt := &Watch{onHangup: onHangup}
	go func() {
		var b [16]byte
		for {
			if _, err := c.Read(b[:]); err != nil {
				break
			}
		}
		wt.fire()
	}()
	return wt
}
