package memory

import (
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// channel is one key's stream state: its epoch, its last offset and a ring
// of its newest publications. The whole of it is dropped when it expires.
type channel struct {
	epoch  string
	offset uint64
	// ring holds up to len(ring) publications; it is allocated at the
	// history size and reused, and only reallocated when the size changes.
	ring []*pubsub.Publication
	head int // index of the oldest publication in ring
	n    int // how many publications ring holds
	// expires is when the whole state is dropped (a new epoch follows):
	// the last publish + the longer of the history TTL and the meta TTL.
	expires time.Time
	// historyExpires is when the publications are dropped: the last
	// publish + the history TTL. Epoch and offset outlive them, so a
	// client sees a gap in the same epoch, not data loss.
	historyExpires time.Time
}

func newChannel(expires time.Time) *channel {
	return &channel{epoch: newEpoch(), expires: expires, historyExpires: expires}
}

func (c *channel) expired(now time.Time) bool { return !now.Before(c.expires) }

// at returns the i-th oldest publication held (0 <= i < n).
func (c *channel) at(i int) *pubsub.Publication {
	return c.ring[(c.head+i)%len(c.ring)]
}

// resize makes the ring hold size publications, keeping the newest.
func (c *channel) resize(size int) {
	if size == len(c.ring) {
		return
	}
	if size == 0 {
		c.ring, c.head, c.n = nil, 0, 0
		return
	}
	keep := min(c.n, size)
	ring := make([]*pubsub.Publication, size)
	for i := range keep {
		ring[i] = c.at(c.n - keep + i)
	}
	c.ring, c.head, c.n = ring, 0, keep
}

// push appends pub, dropping the oldest when the ring is full.
func (c *channel) push(pub *pubsub.Publication) {
	size := len(c.ring)
	if size == 0 {
		return
	}
	if c.n < size {
		c.ring[(c.head+c.n)%size] = pub
		c.n++
		return
	}
	c.ring[c.head] = pub
	c.head = (c.head + 1) % size
}

// expireHistory drops the publications, and the ring, once the history
// TTL has passed.
func (c *channel) expireHistory(now time.Time) {
	if c.ring != nil && !now.Before(c.historyExpires) {
		c.ring, c.head, c.n = nil, 0, 0
	}
}

// clear drops every publication, keeping the ring for reuse.
func (c *channel) clear() {
	clear(c.ring)
	c.head, c.n = 0, 0
}

// search returns the smallest i in [0, n) whose publication's offset is
// > offset, or n. The ring is in offset order, so a binary search works.
func (c *channel) search(offset uint64) int {
	lo, hi := 0, c.n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if c.at(mid).Offset <= offset {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

// read selects publications per pubsub.HistoryRequest.
func (c *channel) read(req pubsub.HistoryRequest) []*pubsub.Publication {
	// [lo, hi) is the index range that matches before the limit.
	lo, hi := 0, c.n
	if req.Since != nil {
		if req.Reverse {
			// offset < Since.Offset, i.e. not > Since.Offset-1.
			if req.Since.Offset == 0 {
				hi = 0
			} else {
				hi = c.search(req.Since.Offset - 1)
			}
		} else {
			lo = c.search(req.Since.Offset)
		}
	}
	count := hi - lo
	if req.Limit >= 0 && req.Limit < count {
		count = req.Limit
	}
	if count <= 0 {
		return []*pubsub.Publication{}
	}
	out := make([]*pubsub.Publication, count)
	switch {
	case req.Reverse:
		// Newest first, starting from the newest that matches.
		for i := range out {
			out[i] = c.at(hi - 1 - i)
		}
	case req.Since != nil:
		// The first count after Since, oldest first.
		for i := range out {
			out[i] = c.at(lo + i)
		}
	default:
		// The newest count, oldest first.
		for i := range out {
			out[i] = c.at(hi - count + i)
		}
	}
	return out
}
