package loadgen

import (
	"math"
	"testing"
)

func TestHistIndexRoundTrip(t *testing.T) {
	t.Parallel()
	prev := -1
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, 1 << 40, math.MaxInt64} {
		i := histIndex(v)
		if i < prev || i >= histBuckets {
			t.Fatalf("index(%d) = %d (previous %d, buckets %d)", v, i, prev, histBuckets)
		}
		prev = i
		got := histValue(i)
		if rel := math.Abs(float64(got)-float64(v)) / math.Max(1, float64(v)); rel > 0.008 {
			t.Fatalf("value(index(%d)) = %d, relative error %.4f", v, got, rel)
		}
	}
}

func TestQuantiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values func(record func(int64))
		q      float64
		want   int64
	}{
		{"empty", func(func(int64)) {}, 0.5, 0},
		{"uniform 1..1000 µs p50", func(r func(int64)) {
			for i := int64(1); i <= 1000; i++ {
				r(i * 1000)
			}
		}, 0.50, 501_000},
		{"uniform 1..1000 µs p99", func(r func(int64)) {
			for i := int64(1); i <= 1000; i++ {
				r(i * 1000)
			}
		}, 0.99, 991_000},
		{"p99.9 catches the tail", func(r func(int64)) {
			for range 9990 {
				r(1_000_000)
			}
			for range 10 {
				r(50_000_000)
			}
		}, 0.999, 50_000_000},
		{"max is exact", func(r func(int64)) { r(7); r(123_456_789) }, 1, 123_456_789},
		{"negative counts as zero", func(r func(int64)) { r(-5) }, 0.5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var h histogram
			tt.values(h.record)
			var s snapshot
			s.add(&h)
			got := s.quantile(tt.q)
			if rel := math.Abs(float64(got-tt.want)) / math.Max(1, float64(tt.want)); rel > 0.01 {
				t.Fatalf("quantile(%v) = %d, want %d ±1%%", tt.q, got, tt.want)
			}
		})
	}
}
