package pubsub

import "testing"

// TestRandomIDs checks that ids drawn from the buffered entropy have the
// asked length, the id alphabet, and never repeat across several refills
// of the buffer, from concurrent callers.
func TestRandomIDs(t *testing.T) {
	const callers, each = 4, 2000 // 8,000 ids × 12 bytes: many 4 KiB refills
	ids := make(chan string, callers*each)
	done := make(chan struct{})
	for range callers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range each {
				ids <- RandomID(12)
			}
		}()
	}
	for range callers {
		<-done
	}
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if len(id) != 20 {
			t.Fatalf("id %q: length %d, want 20", id, len(id))
		}
		for _, c := range id {
			if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
				t.Fatalf("id %q: %q is not in the id alphabet", id, c)
			}
		}
		if seen[id] {
			t.Fatalf("id %q drawn twice", id)
		}
		seen[id] = true
	}
	if len(seen) != callers*each {
		t.Fatalf("got %d ids, want %d", len(seen), callers*each)
	}
}

// BenchmarkRandomID is the client id every inline-form stream (so every
// long poll) takes.
func BenchmarkRandomID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if len(RandomID(12)) != 20 {
			b.Fatal("wrong id length")
		}
	}
}
