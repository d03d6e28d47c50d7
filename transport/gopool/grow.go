package gopool

// growBy is what GrowStack puts on the stack: with what the caller uses
// already, the runtime grows a fresh 2 KiB stack once, to 16 KiB, the
// largest size its per-thread stack caches keep; enough for the SSE
// accept path (BenchmarkSSEAccept's profile shows no copy after it).
const growBy = 8 << 10

// GrowStack grows the calling goroutine's stack in one step, where the
// call chain is still short. A goroutine's stack starts small and doubles,
// by copying every frame on it, each time a call goes deeper than it has;
// a request that ends deep (JSON decoding, crypto/rand, routing) pays
// three or four such copies, each dearer the more frames it adjusts. One
// copy near the top is cheap. A stack that is large enough already is not
// copied; the cost is then clearing growBy bytes.
//
//go:noinline
func GrowStack() {
	var buf [growBy]byte
	use(buf[:])
}

//go:noinline
func use([]byte) {}
