//go:build !linux

package hangup

import "net"

// Watcher watches connections with a reading goroutine each (the epoll
// set is Linux's).
type Watcher struct{}

// New returns a watcher.
func New() (*Watcher, error) { return &Watcher{}, nil }

// Close does nothing: each goroutine ends with its connection.
func (w *Watcher) Close() {}

// Watch calls onHangup when the peer of c closes or resets it, or the
// connection fails; bytes the peer sends are read and dropped.
func (w *Watcher) Watch(c net.Conn, onHangup func()) *Watch { return watchByReading(c, onHangup) }

// WatchClose returns nil: without an epoll set, only a reading goroutine
// could tell, and it would take what the peer sends.
func (w *Watcher) WatchClose(c net.Conn, onHangup func()) *Watch { return nil }

// Len returns 0: no connection is held in a set.
func (w *Watcher) Len() int { return 0 }

func (w *Watcher) remove(*Watch) {}
