package hangup

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Watcher watches connections from one epoll set and one goroutine. Its
// zero value is not usable: call New.
type Watcher struct {
	epfd int
	wake int // an eventfd that Close writes to end the loop
	done chan struct{}

	mu     sync.Mutex
	byFD   map[int]*Watch
	nextID uint32
	closed bool
}

// New starts a watcher; Close ends it.
func New() (*Watcher, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("hangup: epoll_create1: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("hangup: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wake)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(wake)
		return nil, fmt.Errorf("hangup: epoll_ctl: %w", err)
	}
	w := &Watcher{epfd: epfd, wake: wake, done: make(chan struct{}), byFD: make(map[int]*Watch)}
	go w.run()
	return w, nil
}

// Close stops watching every connection and waits for the loop to end.
func (w *Watcher) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.done
		return
	}
	w.closed = true
	clear(w.byFD)
	w.mu.Unlock()
	var one [8]byte
	one[0] = 1 // eventfd counters are host-endian; any non-zero value wakes
	_, _ = unix.Write(w.wake, one[:])
	<-w.done
	_ = unix.Close(w.epfd)
	_ = unix.Close(w.wake)
}

// Watch calls onHangup, from the watcher's goroutine, when the peer of c
// closes or resets it, or the connection fails; bytes the peer sends are
// read and dropped. Closing c here is not a hangup: Stop the watch first.
// A nil watcher, a closed one, and a connection without a file descriptor
// fall back to a reading goroutine (which also reports a close here).
func (w *Watcher) Watch(c net.Conn, onHangup func()) *Watch {
	if wt := w.add(c, onHangup, false); wt != nil {
		return wt
	}
	return watchByReading(c, onHangup)
}

// WatchClose calls onHangup, from the watcher's goroutine, when the peer
// of c closes or resets it, and leaves what the peer sends unread for the
// connection's own reader (a pipelined request); Stop the watch before
// reading or closing c. It returns nil when c cannot be watched so (no
// descriptor, a nil or closed watcher, another platform).
func (w *Watcher) WatchClose(c net.Conn, onHangup func()) *Watch {
	return w.add(c, onHangup, true)
}

// add puts c in the set; nil when it cannot.
func (w *Watcher) add(c net.Conn, onHangup func(), keepData bool) *Watch {
	if w == nil {
		return nil
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil || fd < 0 {
		return nil
	}
	wt := &Watch{w: w, fd: fd, rc: rc, onHangup: onHangup, keepData: keepData}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.nextID++
	wt.id = w.nextID
	// Edge-triggered: one event per change; drain reads to EAGAIN.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: int32(wt.id)}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return nil
	}
	w.byFD[fd] = wt
	return wt
}

// Len returns how many connections the watcher's epoll set holds.
func (w *Watcher) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.byFD)
}

// remove takes wt out of the set, if the descriptor is still wt's: once a
// connection is closed its number can be another connection's, which a
// late Stop must not unregister.
func (w *Watcher) remove(wt *Watch) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.byFD[wt.fd] != wt {
		return
	}
	delete(w.byFD, wt.fd)
	// Fails harmlessly when the descriptor was closed already (the kernel
	// drops it from the set then).
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, wt.fd, nil)
}

// lookup finds the watch an event is for; events of a watch removed
// since (its descriptor perhaps reused) carry another id.
func (w *Watcher) lookup(ev unix.EpollEvent) *Watch {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt := w.byFD[int(ev.Fd)]
	if wt == nil || wt.id != uint32(ev.Pad) {
		return nil
	}
	return wt
}

func (w *Watcher) run() {
	defer close(w.done)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(w.epfd, events, -1)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == w.wake {
				return
			}
			wt := w.lookup(ev)
			if wt == nil {
				continue
			}
			if ev.Events&(unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 || (!wt.keepData && !drain(wt.rc)) {
				w.remove(wt)
				wt.fire()
			}
		}
	}
}

// drain reads and drops what is readable without waiting; false: the
// peer closed the connection, or it failed or was closed here.
func drain(rc syscall.RawConn) bool {
	open := true
	var buf [256]byte
	err := rc.Read(func(fd uintptr) bool {
		for {
			n, err := unix.Read(int(fd), buf[:])
			switch {
			case n > 0:
				continue
			case errors.Is(err, unix.EINTR):
				continue
			case errors.Is(err, unix.EAGAIN):
			default: // end of stream (n == 0) or an error
				open = false
			}
			return true // never wait: the watcher's goroutine serves everyone
		}
	})
	return open && err == nil
}
