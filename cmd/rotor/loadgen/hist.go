package loadgen

import (
	"math/bits"
	"sync/atomic"
)

// A histogram of durations in nanoseconds with log-linear buckets: exact
// below 256 ns, then 128 buckets per power of two (relative error under
// 0.8 %), up to 2^63 ns. Recording is one atomic add and needs no lock,
// so subscriber goroutines share a few histograms.
const (
	histSubBits = 7
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits) * histSub
)

type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64
}

func histIndex(v uint64) int {
	mag := bits.Len64(v)
	if mag <= histSubBits+1 {
		return int(v)
	}
	shift := mag - histSubBits - 1
	return (shift+1)*histSub + int(v>>uint(shift)) - histSub
}

// histValue is the middle of bucket i.
func histValue(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	m := uint64(i%histSub + histSub)
	return m<<uint(shift) + (uint64(1)<<uint(shift))/2
}

// record adds one duration in ns; negative values (clock skew) count as 0.
func (h *histogram) record(ns int64) {
	if ns < 0 {
		ns = 0
	}
	h.counts[histIndex(uint64(ns))].Add(1)
	for {
		m := h.max.Load()
		if ns <= m || h.max.CompareAndSwap(m, ns) {
			return
		}
	}
}

// snapshot is a merged, plain copy of histograms.
type snapshot struct {
	counts [histBuckets]uint64
	total  uint64
	max    int64
}

func (s *snapshot) add(h *histogram) {
	for i := range h.counts {
		c := h.counts[i].Load()
		s.counts[i] += c
		s.total += c
	}
	s.max = max(s.max, h.max.Load())
}

// quantile returns the value at q (0..1) in ns, or 0 with no samples.
func (s *snapshot) quantile(q float64) int64 {
	if s.total == 0 {
		return 0
	}
	rank := uint64(q * float64(s.total))
	if rank >= s.total {
		rank = s.total - 1
	}
	var seen uint64
	for i, c := range s.counts {
		seen += c
		if seen > rank {
			return min(int64(histValue(i)), s.max)
		}
	}
	return s.max
}
