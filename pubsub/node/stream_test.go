package node

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// nopHooks answer as an app without auth_url or publish hook would.
type nopHooks struct{}

func (nopHooks) Authorize(context.Context, AuthRequest) (map[string]AuthResult, error) {
	return map[string]AuthResult{}, nil
}

func (nopHooks) BeforePublish(context.Context, PublishHookRequest) (PublishHookResult, error) {
	return PublishHookResult{}, nil
}

// recordSink keeps every event a stream gives it.
type recordSink struct{ events []recorded }

type recorded struct {
	kind pubsub.EventKind
	data string
}

func (s *recordSink) Event(kind pubsub.EventKind, _ []byte, data []byte) {
	s.events = append(s.events, recorded{kind, string(data)})
}

func (s *recordSink) pubs() []string {
	var out []string
	for _, e := range s.events {
		if e.kind == pubsub.EventPub {
			out = append(out, e.data)
		}
	}
	return out
}

// startNode runs a node on the memory engine with one project "p" whose
// default namespace lets anonymous clients in.
func startNode(t *testing.T, sink EventSink) (*Node, *structure.Project) {
	t.Helper()
	def := structure.DefaultNamespaceSettings("default")
	def.Anonymous = true
	p := structure.Project{ID: "p", Name: "p", APIKey: "p-api-key", Secret: "0123456789abcdef0123456789abcdef", DefaultNamespace: "default",
		Anonymous: true, EventsHookURL: "http://hook.invalid", Namespaces: []structure.Namespace{def}}
	store, err := admin.NewStaticStore([]structure.Project{p})
	if err != nil {
		t.Fatal(err)
	}
	e := memory.New(memory.Options{})
	n, err := New(Options{Delivery: e, Broker: e, Presence: e, Revoker: e, Projects: store,
		Authorizer: nopHooks{}, PublishHook: nopHooks{}, Events: sink})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	proj, _ := store.Project(t.Context(), "p")
	return n, proj
}

// TestLiveAndHistorySameBytes: a publication reaches a stream as the same
// bytes live and caught up from history, data with <, > and & and the
// publisher's info included.
func TestLiveAndHistorySameBytes(t *testing.T) {
	t.Parallel()
	n, p := startNode(t, nil)
	ctx := t.Context()
	live := &recordSink{}
	st, perr := n.OpenStream(ctx, StreamRequest{Project: p, Transport: "sse", Channels: []string{"news"}}, live)
	if perr != nil {
		t.Fatal(perr)
	}
	defer st.Close()
	start := string(st.ID())
	ref, perr := Resolve(p, "news")
	if perr != nil {
		t.Fatal(perr)
	}
	info := &pubsub.ClientInfo{Client: "c1", User: "u1", Info: json.RawMessage(`{"name":"<b>&</b>"}`)}
	if _, perr := n.Publish(ctx, ref, json.RawMessage(`{"html":"<i>a&b</i>"}`), info); perr != nil {
		t.Fatal(perr)
	}
	select {
	case <-st.Ready():
	case <-time.After(5 * time.Second):
		t.Fatal("no live delivery")
	}
	if err := st.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	hist := &recordSink{}
	st2, perr := n.OpenStream(ctx, StreamRequest{Project: p, Transport: "poll", Channels: []string{"news"}, Since: start, QuietResume: true}, hist)
	if perr != nil {
		t.Fatal(perr)
	}
	defer st2.Close()
	l, h := live.pubs(), hist.pubs()
	if len(l) != 1 || len(h) != 1 {
		t.Fatalf("live %q, history %q: want one publication each", l, h)
	}
	if l[0] != h[0] {
		t.Fatalf("live and history differ:\n live    %s\n history %s", l[0], h[0])
	}
}

// chanSink collects events for the events hook.
type chanSink chan Event

// discardSink drops every event.
type discardSink struct{}

func (discardSink) Emit(string, Event) {}

func (c chanSink) Emit(_ string, ev Event) { c <- ev }

// TestPollReportsDisconnect: a stream reports `disconnect` to the events
// hook when it closes, whichever transport carried it.
func TestPollReportsDisconnect(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"sse", "poll"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			events := make(chanSink, 16)
			n, p := startNode(t, events)
			st, perr := n.OpenStream(t.Context(), StreamRequest{Project: p, Transport: transport, Channels: []string{"news"}}, &recordSink{})
			if perr != nil {
				t.Fatal(perr)
			}
			st.Close()
			st.Close() // a second Close does nothing
			timeout := time.After(5 * time.Second)
			got := 0
			for got == 0 {
				select {
				case ev := <-events:
					if ev.Type == EventDisconnect {
						got++
					}
				case <-timeout:
					t.Fatal("no disconnect event")
				}
			}
			select {
			case ev := <-events:
				if ev.Type == EventDisconnect {
					t.Fatal("two disconnect events for one stream")
				}
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
}

// TestShutdownWhileStreamsOpen: a stream opening while its node shuts
// down is either counted and ended by Shutdown or refused with 112;
// Shutdown waits for every counted one, and the race detector sees no
// stream counted into a wait already under way (it did, now and then,
// when the count was taken after the hub had registered the stream).
func TestShutdownWhileStreamsOpen(t *testing.T) {
	t.Parallel()
	for range 200 {
		n, p := startNode(t, discardSink{})
		var opener sync.WaitGroup
		var closed atomic.Bool
		opener.Go(func() {
			st, perr := n.OpenStream(t.Context(), StreamRequest{Project: p, Transport: "sse", Channels: []string{"news"}}, &recordSink{})
			if perr != nil {
				if perr.Code != pubsub.CodeUnavailable {
					t.Errorf("open during shutdown: %v, want code %d", perr, pubsub.CodeUnavailable)
				}
				closed.Store(true)
				return
			}
			<-st.Done()
			st.Close()
			closed.Store(true)
		})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		if err := n.Shutdown(ctx, pubsub.DisconnectShutdownReason); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
		opener.Wait()
		if !closed.Load() {
			t.Fatal("the stream was neither refused nor closed")
		}
	}
}
