package enginetest

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

func (s *suite) capabilityTests() []test {
	return []test{
		{"ProjectWatcher", s.watchTest},
		{"declared and given agree", func(t *testing.T) {
			// newEngine fails on a part declared and not given.
			e := s.newEngine(t)
			for _, c := range e.in.optional() {
				if declared := s.cfg.Capabilities&c.cap != 0; declared != c.given {
					t.Errorf("%s: declared %v, given %v", c.name, declared, c.given)
				}
			}
		}},
		{"HealthChecker", func(t *testing.T) {
			s.need(t, HealthChecker)
			e, _ := s.started(t)
			if err := e.in.Health.Ready(t.Context()); err != nil {
				t.Fatalf("Ready after Start: %v", err)
			}
		}},
		{"NodeDirectory", func(t *testing.T) {
			s.need(t, NodeDirectory)
			e := s.newEngine(t)
			d := e.in.Nodes
			ctx := t.Context()
			nodes := func() []pubsub.NodeInfo {
				t.Helper()
				got, err := d.Nodes(ctx)
				if err != nil {
					t.Fatal(err)
				}
				slices.SortFunc(got, func(a, b pubsub.NodeInfo) int {
					if a.ID < b.ID {
						return -1
					}
					if a.ID > b.ID {
						return 1
					}
					return 0
				})
				return got
			}
			if got := nodes(); len(got) != 0 {
				t.Fatalf("nodes before any update: %+v", got)
			}
			a := pubsub.NodeInfo{ID: "a", Version: "1", Uptime: 5, Clients: 3, Subscriptions: 4, Channels: 2, PublicationsPerSec: 1.5}
			if err := d.UpdateNode(ctx, a, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := d.UpdateNode(ctx, pubsub.NodeInfo{ID: "b", Clients: 1}, 2*unit); err != nil {
				t.Fatal(err)
			}
			if got := nodes(); len(got) != 2 || got[0] != a || got[1].ID != "b" {
				t.Fatalf("nodes %+v", got)
			}
			a.Clients = 7
			if err := d.UpdateNode(ctx, a, time.Minute); err != nil {
				t.Fatal(err)
			}
			e.pass(2 * unit)
			if got := nodes(); len(got) != 1 || got[0] != a {
				t.Fatalf("after b's heartbeat expired: %+v, want only %+v", got, a)
			}
		}},
		{"SeriesDirectory", func(t *testing.T) {
			s.need(t, SeriesDirectory)
			e := s.newEngine(t)
			d := e.in.Series
			ctx := t.Context()
			series := func() []pubsub.NodeSeries {
				t.Helper()
				got, err := d.Series(ctx)
				if err != nil {
					t.Fatal(err)
				}
				slices.SortFunc(got, func(a, b pubsub.NodeSeries) int { return strings.Compare(a.Node, b.Node) })
				return got
			}
			if got := series(); len(got) != 0 {
				t.Fatalf("series before any update: %+v", got)
			}
			a := pubsub.NodeSeries{Node: "a", Every: 10, Samples: []pubsub.Sample{{Time: 100, Connections: 3, Publications: 7}},
				Projects: map[string][]pubsub.Sample{"p": {{Time: 100, Connections: 1, APIRequests: 2, APIErrors: 1}}}}
			if err := d.UpdateSeries(ctx, a, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := d.UpdateSeries(ctx, pubsub.NodeSeries{Node: "b", Every: 10}, 2*unit); err != nil {
				t.Fatal(err)
			}
			if got := series(); len(got) != 2 || !reflect.DeepEqual(got[0], a) || got[1].Node != "b" {
				t.Fatalf("series %+v", got)
			}
			// An update replaces the node's series.
			a.Samples = append(a.Samples, pubsub.Sample{Time: 110, Deliveries: 9})
			if err := d.UpdateSeries(ctx, a, time.Minute); err != nil {
				t.Fatal(err)
			}
			e.pass(2 * unit)
			if got := series(); len(got) != 1 || !reflect.DeepEqual(got[0], a) {
				t.Fatalf("after b's share expired: %+v, want only %+v", got, a)
			}
		}},
		{"ChannelLister", func(t *testing.T) {
			s.need(t, ChannelLister)
			e := s.newEngine(t)
			l, r := e.in.Channels, e.in.Channels
			ctx := t.Context()
			if err := r.ReportChannels(ctx, "a", map[string]int{"p|news": 2, "p|chat/1": 1, "q|news": 5}, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := r.ReportChannels(ctx, "b", map[string]int{"p|news": 3}, 2*unit); err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				pattern string
				want    map[string]int
			}{
				{"p|*", map[string]int{"p|news": 5}}, // path.Match: * stops at /
				{"*|news", map[string]int{"p|news": 5, "q|news": 5}},
				{"p|chat/*", map[string]int{"p|chat/1": 1}},
				{"", map[string]int{"p|news": 5, "p|chat/1": 1, "q|news": 5}},
				{"z|*", map[string]int{}},
			} {
				if got, err := l.Channels(ctx, tt.pattern); err != nil || !maps.Equal(got, tt.want) {
					t.Errorf("Channels(%q) = %v, %v; want %v", tt.pattern, got, err, tt.want)
				}
			}
			if _, err := l.Channels(ctx, "["); err == nil {
				t.Error("a bad pattern was accepted")
			}
			e.pass(2 * unit)
			if got, err := l.Channels(ctx, "p|news"); err != nil || !maps.Equal(got, map[string]int{"p|news": 2}) {
				t.Errorf("after b's report expired: %v, %v", got, err)
			}
			// A new report replaces the node's old one.
			if err := r.ReportChannels(ctx, "a", map[string]int{"p|news": 1}, time.Minute); err != nil {
				t.Fatal(err)
			}
			if got, err := l.Channels(ctx, "*"); err != nil || !maps.Equal(got, map[string]int{"p|news": 1}) {
				t.Errorf("after a new report: %v, %v", got, err)
			}
		}},
	}
}

// watchTest: a watch on one node gets a publication made on another to a
// channel nobody subscribed, and nothing of another project.
func (s *suite) watchTest(t *testing.T) {
	s.need(t, ProjectWatcher)
	e, _ := s.started(t)
	if e.in.Peer == nil {
		t.Skip("one process: the hub sees every publication")
	}
	peer := e.peer(t)
	e.start(t, peer)
	var mu sync.Mutex
	var got []string
	stop, err := e.in.Watcher.WatchProject(t.Context(), "w", func(key string, pub *pubsub.Publication) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, key+" "+string(pub.Data))
	})
	if err != nil {
		t.Fatalf("WatchProject: %v", err)
	}
	defer stop()
	ctx := t.Context()
	s.eventually(t, "the watch to see the peer's publication", func() bool {
		for _, key := range []string{pubsub.Key("other", "a"), pubsub.Key("w", "a")} {
			if _, err := peer.Publish(ctx, key, json.RawMessage(`1`), keep(1)); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return len(got) > 0
	})
	mu.Lock()
	defer mu.Unlock()
	for _, g := range got {
		if g != pubsub.Key("w", "a")+" 1" {
			t.Fatalf("watch of w got %q", g)
		}
	}
}

// need skips t unless the engine declares c (the agreement between what
// is declared and implemented is its own test).
func (s *suite) need(t *testing.T, c Capability) {
	t.Helper()
	if s.cfg.Capabilities&c == 0 {
		t.Skip("the engine does not offer this capability")
	}
}
