package enginetest

import (
	"slices"
	"testing"

	"github.com/rotor-rt/rotor/pubsub"
)

func (s *suite) historyTests() []test {
	since := func(o uint64) *pubsub.Position { return &pubsub.Position{Epoch: "whatever", Offset: o} }
	// Ten publications into a history of five: offsets 6..10 are kept.
	requests := []struct {
		name string
		req  pubsub.HistoryRequest
		want []uint64
	}{
		{"newest all oldest first", pubsub.HistoryRequest{Limit: -1}, seq(6, 5, 1)},
		{"newest 3 oldest first", pubsub.HistoryRequest{Limit: 3}, []uint64{8, 9, 10}},
		{"limit above size", pubsub.HistoryRequest{Limit: 100}, seq(6, 5, 1)},
		{"limit 0", pubsub.HistoryRequest{Limit: 0}, nil},
		{"newest all newest first", pubsub.HistoryRequest{Limit: -1, Reverse: true}, seq(10, 5, -1)},
		{"newest 2 newest first", pubsub.HistoryRequest{Limit: 2, Reverse: true}, []uint64{10, 9}},
		{"limit 0 reverse", pubsub.HistoryRequest{Limit: 0, Reverse: true}, nil},
		{"since 7", pubsub.HistoryRequest{Since: since(7), Limit: -1}, []uint64{8, 9, 10}},
		{"since 7 limit 2", pubsub.HistoryRequest{Since: since(7), Limit: 2}, []uint64{8, 9}},
		{"since 0", pubsub.HistoryRequest{Since: since(0), Limit: -1}, seq(6, 5, 1)},
		{"since trimmed limit 2", pubsub.HistoryRequest{Since: since(2), Limit: 2}, []uint64{6, 7}},
		{"since last", pubsub.HistoryRequest{Since: since(10), Limit: -1}, nil},
		{"since future", pubsub.HistoryRequest{Since: since(12), Limit: -1}, nil},
		{"since 7 limit 0", pubsub.HistoryRequest{Since: since(7), Limit: 0}, nil},
		{"before 8 reverse", pubsub.HistoryRequest{Since: since(8), Limit: -1, Reverse: true}, []uint64{7, 6}},
		{"before 9 reverse limit 2", pubsub.HistoryRequest{Since: since(9), Limit: 2, Reverse: true}, []uint64{8, 7}},
		{"before 0 reverse", pubsub.HistoryRequest{Since: since(0), Limit: -1, Reverse: true}, nil},
		{"before 1 reverse", pubsub.HistoryRequest{Since: since(1), Limit: -1, Reverse: true}, nil},
		{"before first kept reverse", pubsub.HistoryRequest{Since: since(6), Limit: -1, Reverse: true}, nil},
		{"before trimmed reverse", pubsub.HistoryRequest{Since: since(3), Limit: -1, Reverse: true}, nil},
		{"before 11 reverse", pubsub.HistoryRequest{Since: since(11), Limit: -1, Reverse: true}, seq(10, 5, -1)},
		{"before future reverse limit 2", pubsub.HistoryRequest{Since: since(100), Limit: 2, Reverse: true}, []uint64{10, 9}},
		{"before 8 reverse limit 0", pubsub.HistoryRequest{Since: since(8), Limit: 0, Reverse: true}, nil},
	}
	// Publishing n at a time with changing history sizes.
	type step struct{ n, size int }
	trims := []struct {
		name  string
		steps []step
		want  []uint64
	}{
		{"under size", []step{{3, 5}}, []uint64{1, 2, 3}},
		{"exactly size", []step{{5, 5}}, seq(1, 5, 1)},
		{"wraps", []step{{12, 5}}, seq(8, 5, 1)},
		{"size 0 keeps none", []step{{4, 0}}, nil},
		{"negative size keeps none", []step{{2, 3}, {2, -1}}, nil},
		{"shrinks", []step{{10, 8}, {1, 3}}, []uint64{9, 10, 11}},
		{"shrinks after wrap", []step{{13, 5}, {2, 2}}, []uint64{14, 15}},
		{"grows", []step{{7, 3}, {2, 6}}, seq(5, 5, 1)},
		{"grows then wraps", []step{{7, 3}, {5, 4}}, seq(9, 4, 1)},
		{"off then on", []step{{3, 0}, {2, 5}}, []uint64{4, 5}},
		{"on then off", []step{{3, 5}, {1, 0}}, nil},
	}

	tests := []test{{"requests", func(t *testing.T) {
		e := s.newEngine(t)
		last := e.publishN(t, "p|ch", 10, keep(5))
		for _, tt := range requests {
			res, err := e.History(t.Context(), "p|ch", tt.req)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if res.Publications == nil {
				t.Errorf("%s: Publications is nil, want an empty slice (JSON [])", tt.name)
			}
			if got := offsets(res.Publications); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("%s: offsets %v, want %v", tt.name, got, tt.want)
			}
			if res.Position != last {
				t.Errorf("%s: position %+v, want %+v", tt.name, res.Position, last)
			}
			for _, p := range res.Publications {
				if string(p.Data) != string(data(int(p.Offset))) || p.Epoch != last.Epoch {
					t.Errorf("%s: publication %d has data %s epoch %q", tt.name, p.Offset, p.Data, p.Epoch)
				}
			}
		}
	}}}
	for _, tt := range trims {
		tests = append(tests, test{"trim " + tt.name, func(t *testing.T) {
			e := s.newEngine(t)
			var pos pubsub.Position
			for _, st := range tt.steps {
				for range st.n {
					pos = e.publish(t, "p|k", int(pos.Offset)+1, keep(st.size))
				}
			}
			res := e.history(t, "p|k")
			if got := offsets(res.Publications); !slices.Equal(got, tt.want) && len(got)+len(tt.want) > 0 {
				t.Errorf("offsets %v, want %v", got, tt.want)
			}
			if res.Position != pos {
				t.Errorf("position %+v, want %+v", res.Position, pos)
			}
		}})
	}
	return append(tests,
		test{"never published: fresh epoch, offset 0, kept by the first publish", func(t *testing.T) {
			e := s.newEngine(t)
			a, err := e.History(t.Context(), "p|fresh", pubsub.HistoryRequest{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if a.Position.Epoch == "" || a.Position.Offset != 0 || a.Publications == nil || len(a.Publications) != 0 {
				t.Fatalf("fresh channel: %+v %v", a.Position, a.Publications)
			}
			b := e.history(t, "p|fresh")
			if b.Position != a.Position {
				t.Fatalf("epoch changed between reads: %+v then %+v", a.Position, b.Position)
			}
			if pos := e.publish(t, "p|fresh", 1, keep(1)); pos != (pubsub.Position{Epoch: a.Position.Epoch, Offset: 1}) {
				t.Fatalf("first publication at %+v, want epoch %q offset 1", pos, a.Position.Epoch)
			}
		}},
		test{"RemoveHistory keeps offset and epoch", func(t *testing.T) {
			e := s.newEngine(t)
			pos := e.publishN(t, "p|k", 7, keep(5))
			if err := e.RemoveHistory(t.Context(), "p|k"); err != nil {
				t.Fatal(err)
			}
			if res := e.history(t, "p|k"); len(res.Publications) != 0 || res.Position != pos {
				t.Fatalf("after RemoveHistory: %+v %v, want %+v and none", res.Position, offsets(res.Publications), pos)
			}
			if next := e.publishN(t, "p|k", 2, keep(5)); next != (pubsub.Position{Epoch: pos.Epoch, Offset: 9}) {
				t.Fatalf("next publication at %+v, want epoch %q offset 9", next, pos.Epoch)
			}
			if got := offsets(e.history(t, "p|k").Publications); !slices.Equal(got, []uint64{8, 9}) {
				t.Fatalf("history %v, want [8 9]", got)
			}
			if err := e.RemoveHistory(t.Context(), "p|never"); err != nil {
				t.Fatalf("RemoveHistory of a channel never published: %v", err)
			}
			if res := e.history(t, "p|never"); res.Position.Offset != 0 || res.Position.Epoch == "" {
				t.Fatalf("never published after RemoveHistory: %+v", res.Position)
			}
		}},
		test{"the result is the caller's", func(t *testing.T) {
			e := s.newEngine(t)
			e.publishN(t, "p|k", 3, keep(3))
			res := e.history(t, "p|k")
			res.Publications[0] = nil
			if got := offsets(e.history(t, "p|k").Publications); !slices.Equal(got, []uint64{1, 2, 3}) {
				t.Fatalf("history changed by the caller: %v", got)
			}
		}},
	)
}
