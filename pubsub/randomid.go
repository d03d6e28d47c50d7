package pubsub

import (
	"crypto/rand"
	"encoding/base32"
	"sync"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// idEntropy buffers the kernel's random bytes: every stream of the inline
// form takes a fresh client id and every HTTP request a request id, and
// under load one getrandom(2) call per id was a tenth of a long poll's
// CPU. The bytes are crypto/rand's, read 4 KiB at a time
// and each handed out once.
var idEntropy struct {
	sync.Mutex
	buf  [4096]byte
	left int
}

// RandomID returns a random id of n bytes of entropy, lower-case base32.
func RandomID(n int) string {
	var a [32]byte
	if n > len(a) {
		b := make([]byte, n)
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
		return idEncoding.EncodeToString(b)
	}
	b := a[:n]
	e := &idEntropy
	e.Lock()
	if e.left < n {
		_, _ = rand.Read(e.buf[:])
		e.left = len(e.buf)
	}
	copy(b, e.buf[len(e.buf)-e.left:])
	e.left -= n
	e.Unlock()
	return idEncoding.EncodeToString(b)
}
