package pubsub

import (
	"slices"
	"strings"
	"testing"
)

// FuzzDecodePositions: no panic; an accepted stream id encodes back to
// itself, and its positions survive a round trip.
func FuzzDecodePositions(f *testing.F) {
	for _, s := range []string{"abc:0", "abc:12.def:3", "a:18446744073709551615", "a:18446744073709551616", "a:01", "a:-1", ":1", "a:", "a:1.", ".", "", "a:1:2", strings.Repeat("a", 33) + ":1", strings.Repeat("a:1.", 200) + "a:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ps, err := DecodePositions(id)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Code != CodeBadRequest {
				t.Fatalf("DecodePositions(%q) error %v, want code %d", id, err, CodeBadRequest)
			}
			return
		}
		if len(ps) == 0 {
			t.Fatalf("DecodePositions(%q) accepted no positions", id)
		}
		enc := EncodePositions(ps)
		if enc != id {
			t.Fatalf("DecodePositions(%q) = %+v, encodes to %q", id, ps, enc)
		}
		if got := string(AppendPositions([]byte("x"), ps)); got != "x"+id {
			t.Fatalf("AppendPositions = %q", got)
		}
		again, err := DecodePositions(enc)
		if err != nil || !slices.Equal(again, ps) {
			t.Fatalf("round trip of %q: %+v, %v", id, again, err)
		}
		for _, p := range ps {
			if strings.ContainsAny(p.Epoch, ".:\r\n\x00") {
				t.Fatalf("DecodePositions(%q): epoch %q", id, p.Epoch)
			}
		}
	})
}
