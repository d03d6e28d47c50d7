package node

import (
	"testing"
	"unsafe"

	"github.com/rotor-rt/rotor/pubsub"
)

// TestSampleRingSize keeps docs/admin.md (Charts) true: a sample is 48
// bytes and a ring of 90 about 4.3 KB.
func TestSampleRingSize(t *testing.T) {
	t.Parallel()
	if s := unsafe.Sizeof(pubsub.Sample{}); s != 48 {
		t.Errorf("a sample is %d bytes, documented as 48", s)
	}
	if s := unsafe.Sizeof(sampleRing{}); s > 4400 {
		t.Errorf("a ring is %d bytes, documented as about 4.3 KB", s)
	}
}

func TestSampleRingKeepsTheNewest(t *testing.T) {
	t.Parallel()
	var r sampleRing
	for i := range ChartSamples + 7 {
		r.add(pubsub.Sample{Time: int64(i), Connections: 1})
	}
	got := r.list()
	if len(got) != ChartSamples || got[0].Time != 7 || got[len(got)-1].Time != ChartSamples+6 {
		t.Fatalf("ring holds %d samples from %d to %d", len(got), got[0].Time, got[len(got)-1].Time)
	}
}
