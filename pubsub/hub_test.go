package pubsub

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
)

// interestLog records the hub's Subscribe and Unsubscribe calls: the
// engine's side of local interest, which this test observes directly.
type interestLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *interestLog) Subscribe(_ context.Context, keys ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		l.calls = append(l.calls, "+"+k)
	}
	return nil
}

func (l *interestLog) Unsubscribe(_ context.Context, keys ...string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		l.calls = append(l.calls, "-"+k)
	}
	return nil
}

func pub(offset uint64, data string) *Publication {
	return &Publication{Offset: offset, Epoch: "e", Data: json.RawMessage(data)}
}

func TestHubInterestFollowsSubscribers(t *testing.T) {
	t.Parallel()
	log := &interestLog{}
	h := NewHub(log)
	ctx := t.Context()
	a, _ := h.Open(ctx, StreamOptions{Project: "p", Client: "c1"}, []string{"p|x", "p|y"})
	b, _ := h.Open(ctx, StreamOptions{Project: "p", Client: "c2"}, []string{"p|x"})
	a.Close()
	b.Close()
	want := []string{"+p|x", "+p|y", "-p|x", "-p|y"}
	got := slices.Clone(log.calls)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("interest calls %v, want %v", log.calls, want)
	}
	if st := h.Stats(); st.Streams != 0 || st.Channels != 0 || st.Subscriptions != 0 {
		t.Fatalf("stats after close = %+v", st)
	}
}

func TestHubDeliversEncodedOnce(t *testing.T) {
	t.Parallel()
	h := NewHub(&interestLog{})
	ctx := t.Context()
	var streams []*Stream
	for i := range 5 {
		s, err := h.Open(ctx, StreamOptions{Project: "p", Client: fmt.Sprint(i)}, []string{"p|other", "p|ns:chan"})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	if err := h.Publish("p|ns:chan", pub(7, `{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	var first *Message
	for _, s := range streams {
		<-s.Ready()
		items, _, _ := s.Take(nil)
		if len(items) != 1 || items[0].Chan != 1 {
			t.Fatalf("items = %+v", items)
		}
		if first == nil {
			first = items[0].Msg
		} else if items[0].Msg != first {
			t.Fatal("subscribers got different messages: encoded more than once")
		}
	}
	if got := string(first.JSON); got != `{"channel":"ns:chan","offset":7,"data":{"a":1}}` {
		t.Fatalf("JSON = %s", got)
	}
}

func TestHubSlowStreamEnds(t *testing.T) {
	t.Parallel()
	h := NewHub(&interestLog{})
	slow, _ := h.Open(t.Context(), StreamOptions{Project: "p", Client: "slow", QueueBytes: 1000}, []string{"p|c"})
	fast, _ := h.Open(t.Context(), StreamOptions{Project: "p", Client: "fast", QueueBytes: 1 << 20}, []string{"p|c"})
	for i := range 20 {
		_ = h.Publish("p|c", pub(uint64(i+1), `"0123456789012345678901234567890123456789"`))
	}
	select {
	case <-slow.Done():
	default:
		t.Fatal("slow stream not ended")
	}
	if r := slow.Reason(); r.Code != DisconnectSlow || !r.Reconnect {
		t.Fatalf("reason = %+v", r)
	}
	if items, _, _ := fast.Take(nil); len(items) != 20 {
		t.Fatalf("fast stream got %d, want 20", len(items))
	}
	if h.Stats().Slow != 1 {
		t.Fatalf("slow count = %d", h.Stats().Slow)
	}
}

func TestHubUserOperations(t *testing.T) {
	t.Parallel()
	h := NewHub(&interestLog{})
	ctx := t.Context()
	u1a, _ := h.Open(ctx, StreamOptions{Project: "p", Client: "a", User: "u1"}, []string{"p|x", "p|y"})
	u1b, _ := h.Open(ctx, StreamOptions{Project: "p", Client: "b", User: "u1"}, []string{"p|y"})
	u2, _ := h.Open(ctx, StreamOptions{Project: "p", Client: "c", User: "u2"}, []string{"p|y"})
	other, _ := h.Open(ctx, StreamOptions{Project: "q", Client: "d", User: "u1"}, []string{"q|y"})

	if n := h.UnsubscribeUser("p", "u1", "p|y"); n != 2 {
		t.Fatalf("UnsubscribeUser affected %d, want 2", n)
	}
	_, _, unsub := u1a.Take(nil)
	if !slices.Equal(unsub, []int{1}) {
		t.Fatalf("u1a unsub = %v", unsub)
	}
	_ = h.Publish("p|y", pub(1, `1`))
	if items, _, _ := u1b.Take(nil); len(items) != 0 {
		t.Fatal("unsubscribed stream still receives")
	}
	if items, _, _ := u2.Take(nil); len(items) != 1 {
		t.Fatal("other user's stream lost its subscription")
	}
	if n := h.DisconnectUser("p", "u1", DisconnectRevokedReason); n != 2 {
		t.Fatalf("DisconnectUser ended %d, want 2", n)
	}
	for _, s := range []*Stream{u1a, u1b} {
		if s.Reason() != DisconnectRevokedReason {
			t.Fatalf("reason %+v", s.Reason())
		}
	}
	if other.Reason() != nil || u2.Reason() != nil {
		t.Fatal("a stream of another user or project was ended")
	}
	h.ResyncKeys("p|y", "p|absent")
	if _, resync, _ := u2.Take(nil); !resync {
		t.Fatal("resync of p|y not flagged on its stream")
	}
	if _, resync, _ := other.Take(nil); resync {
		t.Fatal("resync of p|y flagged on a stream without it")
	}
	h.Resync()
	if _, resync, _ := u2.Take(nil); !resync {
		t.Fatal("resync not flagged")
	}
	h.Shutdown(DisconnectShutdownReason)
	if u2.Reason() != DisconnectShutdownReason || other.Reason() != DisconnectShutdownReason {
		t.Fatal("shutdown did not end every stream")
	}
	if _, err := h.Open(ctx, StreamOptions{Project: "p"}, []string{"p|x"}); err != ErrClosed {
		t.Fatalf("Open after shutdown: %v", err)
	}
}

func TestHubConcurrent(t *testing.T) {
	t.Parallel()
	h := NewHub(&interestLog{})
	ctx := t.Context()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 200 {
				s, err := h.Open(ctx, StreamOptions{Project: "p", Client: fmt.Sprint(i), User: "u"}, []string{"p|a", fmt.Sprintf("p|b%d", j%5)})
				if err != nil {
					t.Error(err)
					return
				}
				s.Take(nil)
				s.Close()
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 200 {
				_ = h.Publish("p|a", pub(uint64(j+1), `1`))
				h.UnsubscribeUser("p", "u", "p|b1")
			}
		}()
	}
	wg.Wait()
	if st := h.Stats(); st.Streams != 0 || st.Channels != 0 {
		t.Fatalf("stats after concurrent churn = %+v", st)
	}
}

// BenchmarkFanOut publishes one publication to N local subscribers of one
// channel and lets each take it, as a stream writer would: the figure is
// per delivery.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := NewHub(&interestLog{})
			streams := make([]*Stream, n)
			bufs := make([][]Queued, n)
			for i := range streams {
				s, err := h.Open(context.Background(), StreamOptions{Project: "p", Client: fmt.Sprint(i)}, []string{"p|c"})
				if err != nil {
					b.Fatal(err)
				}
				streams[i] = s
				bufs[i] = make([]Queued, 0, 8)
			}
			p := pub(1, `{"seq":1,"ts":1767225600000,"text":"0123456789012345678901234567890123456789012345678901234567890"}`)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				p.Offset = uint64(i + 1)
				if err := h.Publish("p|c", p); err != nil {
					b.Fatal(err)
				}
				for j, s := range streams {
					bufs[j], _, _ = s.Take(bufs[j])
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// TestUserSet: a user's streams as they come and go, one held without a
// map, more in one.
func TestUserSet(t *testing.T) {
	a, b, c := &Stream{}, &Stream{}, &Stream{}
	var u userSet
	steps := []struct {
		add, remove *Stream
		want        []*Stream
		empty       bool
	}{
		{add: a, want: []*Stream{a}},
		{remove: b, want: []*Stream{a}},
		{add: b, want: []*Stream{a, b}},
		{add: c, want: []*Stream{a, b, c}},
		{remove: a, want: []*Stream{b, c}},
		{remove: b, want: []*Stream{c}},
		{remove: c, want: nil, empty: true},
	}
	for i, st := range steps {
		var empty bool
		if st.add != nil {
			u = u.add(st.add)
		} else {
			u, empty = u.remove(st.remove)
		}
		got := u.appendTo(nil)
		if len(got) != len(st.want) || empty != st.empty {
			t.Fatalf("step %d: %d streams (empty %v), want %d (empty %v)", i, len(got), empty, len(st.want), st.empty)
		}
		for _, w := range st.want {
			if !slices.Contains(got, w) {
				t.Fatalf("step %d: a stream is missing", i)
			}
		}
	}
}
