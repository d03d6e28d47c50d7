package loadgen

import "sync/atomic"

// tracker counts what one subscriber got from its channel against the
// channel's offsets (docs/protocol.md, Concepts: a per-channel counter with no gaps): a
// skipped offset is a lost publication, an offset at or below one already
// seen is a duplicate (or a reordering, which breaks the same promise).
// Only the subscriber's goroutine writes; next is atomic so the runner can
// watch progress.
type tracker struct {
	started bool
	next    atomic.Uint64 // the offset expected next
	lost    uint64
	dup     uint64
}

// base sets the position the subscription starts after (the offset of its
// first sub event). Later sub events do not move it.
func (t *tracker) base(offset uint64) {
	if t.started {
		return
	}
	t.started = true
	t.next.Store(offset + 1)
}

// pub accounts for one received offset.
func (t *tracker) pub(off uint64) {
	next := t.next.Load()
	switch {
	case off == next:
		t.next.Store(next + 1)
	case off < next:
		t.dup++
	default:
		t.lost += off - next
		t.next.Store(off + 1)
	}
}

// received is the last offset received in order.
func (t *tracker) received() uint64 { return t.next.Load() - 1 }

// finish counts as lost what was published up to final but never came.
func (t *tracker) finish(final uint64) {
	if next := t.next.Load(); t.started && final >= next {
		t.lost += final - next + 1
	}
}
