//go:build unix

package h1

import (
	"errors"
	"net"
	"syscall"
)

// rawWriter writes to a connection's socket directly, what it takes at
// once, without waiting for it to take more. A connection makes one, on
// its first answer, so that a write allocates nothing.
type rawWriter struct {
	rc  syscall.RawConn
	do  func(fd uintptr) bool
	b   []byte
	n   int
	err error
}

// newRawWriter returns nc's raw writer, nil when nc is no socket it can
// write so (TLS).
func newRawWriter(nc net.Conn) *rawWriter {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	w := &rawWriter{rc: rc}
	w.do = w.write
	return w
}

// writeNow writes what of b the socket takes at once.
func (w *rawWriter) writeNow(b []byte) (int, error) {
	w.b, w.n, w.err = b, 0, nil
	if err := w.rc.Write(w.do); err != nil {
		w.b = nil
		return 0, err
	}
	w.b = nil
	if errors.Is(w.err, syscall.EAGAIN) {
		return max(w.n, 0), nil
	}
	return max(w.n, 0), w.err
}

func (w *rawWriter) write(fd uintptr) bool {
	for {
		w.n, w.err = syscall.Write(int(fd), w.b)
		if w.err != syscall.EINTR {
			return true
		}
	}
}
