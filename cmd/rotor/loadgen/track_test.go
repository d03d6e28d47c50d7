package loadgen

import "testing"

func TestTracker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		base      uint64
		offsets   []uint64
		final     uint64
		lost, dup uint64
	}{
		{"in order", 0, []uint64{1, 2, 3}, 3, 0, 0},
		{"base from history", 10, []uint64{11, 12}, 12, 0, 0},
		{"gap", 0, []uint64{1, 4, 5}, 5, 2, 0},
		{"repeat", 0, []uint64{1, 2, 2, 3}, 3, 0, 1},
		{"reordered", 0, []uint64{1, 3, 2}, 3, 1, 1},
		{"tail missing", 0, []uint64{1, 2}, 5, 3, 0},
		{"nothing received", 5, nil, 8, 3, 0},
		{"nothing published", 5, nil, 5, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var tr tracker
			tr.base(tt.base)
			tr.base(tt.base + 100) // a later sub event must not move the base
			for _, o := range tt.offsets {
				tr.pub(o)
			}
			tr.finish(tt.final)
			if tr.lost != tt.lost || tr.dup != tt.dup {
				t.Fatalf("lost %d dup %d, want %d %d", tr.lost, tr.dup, tt.lost, tt.dup)
			}
		})
	}
}
