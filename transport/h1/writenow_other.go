//go:build !unix

package h1

import "net"

// rawWriter is not made where sockets are not written directly: a
// response is written under the write timeout's deadline.
type rawWriter struct{}

func newRawWriter(net.Conn) *rawWriter { return nil }

func (*rawWriter) writeNow([]byte) (int, error) { return 0, nil }
