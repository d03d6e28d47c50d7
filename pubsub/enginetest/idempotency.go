package enginetest

import (
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// idempotencyTests check PublishOptions.IdempotencyKey: a key seen on the
// same channel within its window answers the first publication's
// position and appends and delivers nothing more.
func (s *suite) idempotencyTests() []test {
	const window = 3 * unit
	type pub struct {
		key, idem string
		// wait before this publish: within or past the window.
		within, past bool
	}
	rows := []struct {
		name string
		pubs []pub
		// same[i] says whether publish i answers publish i-1's position.
		same    []bool
		history map[string]int
	}{
		{"same key twice",
			[]pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k1"}},
			[]bool{false, true}, map[string]int{"p|a": 1}},
		{"same key on another channel",
			[]pub{{key: "p|a", idem: "k1"}, {key: "p|b", idem: "k1"}},
			[]bool{false, false}, map[string]int{"p|a": 1, "p|b": 1}},
		{"different keys",
			[]pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k2"}},
			[]bool{false, false}, map[string]int{"p|a": 2}},
		{"key with braces and colons",
			[]pub{{key: "p|a", idem: "{x}:1"}, {key: "p|a", idem: "{x}:1"}, {key: "p|a", idem: "{x}:2"}},
			[]bool{false, true, false}, map[string]int{"p|a": 2}},
		{"within the window",
			[]pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k1", within: true}},
			[]bool{false, true}, map[string]int{"p|a": 1}},
		{"after the window",
			[]pub{{key: "p|a", idem: "k1"}, {key: "p|a", idem: "k1", past: true}},
			[]bool{false, false}, map[string]int{"p|a": 2}},
		{"no key",
			[]pub{{key: "p|a"}, {key: "p|a"}},
			[]bool{false, false}, map[string]int{"p|a": 2}},
	}
	var tests []test
	for _, row := range rows {
		tests = append(tests, test{row.name, func(t *testing.T) {
			e, rec := s.started(t)
			for key := range row.history {
				if err := e.Subscribe(t.Context(), key); err != nil {
					t.Fatalf("Subscribe %s: %v", key, err)
				}
			}
			var prev pubsub.Position
			for i, p := range row.pubs {
				switch {
				case p.within && e.fakeClock():
					e.pass(window - time.Millisecond)
				case p.within:
					time.Sleep(unit)
				case p.past:
					e.pass(window)
				}
				opts := pubsub.PublishOptions{HistorySize: 10, HistoryTTL: time.Hour, IdempotencyKey: p.idem, IdempotencyWindow: window}
				pos := e.publish(t, p.key, i, opts)
				if got := pos == prev; got != row.same[i] {
					t.Errorf("publish %d: position %v, previous %v: same = %v, want %v", i, pos, prev, got, row.same[i])
				}
				prev = pos
			}
			for key, want := range row.history {
				if got := len(e.history(t, key).Publications); got != want {
					t.Errorf("%s: %d publications in history, want %d", key, got, want)
				}
				s.eventually(t, key+" delivered", func() bool { return len(rec.Publications(key)) >= want })
			}
			// Nothing more arrives than was appended.
			time.Sleep(50 * time.Millisecond)
			for key, want := range row.history {
				if got := len(rec.Publications(key)); got != want {
					t.Errorf("%s: %d delivered, want %d", key, got, want)
				}
			}
		}})
	}
	return tests
}
