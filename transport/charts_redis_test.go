package transport

import (
	"fmt"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
)

// TestChartSeriesSharedThroughRedis: two nodes on one real Redis each
// sample their own activity; either node's Series returns both, with the
// publications, API requests and errors counted where they were made and
// the connections where they are held, per node and per project.
func TestChartSeriesSharedThroughRedis(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	nodes := startNodes(t, rs.URL(), 2)
	a, b := nodes[0], nodes[1]
	ctx := t.Context()

	st := b.openSSE(q("token", b.token("u1"), "channel", roomNS+":x"), nil)
	st.next("sub")
	for i := range 3 {
		a.publish(roomNS+":x", map[string]int{"n": i})
	}
	if code, _, _ := apiTry(a, "history", map[string]any{"channel": "nope:x"}); code != 200 {
		t.Fatalf("history of an unknown namespace: HTTP %d, want 200 with an error", code)
	}
	eventually(t, "b to deliver 3 publications", func() bool { return b.node.Hub().Stats().Deliveries >= 3 })

	now := time.Now()
	a.node.Node().Ops().SampleCharts(ctx, now)
	b.node.Node().Ops().SampleCharts(ctx, now)

	for _, s := range nodes {
		series, err := s.node.Node().Ops().Series(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]pubsub.Sample{}
		proj := map[string]pubsub.Sample{}
		for _, ns := range series {
			if len(ns.Samples) != 1 || ns.Every != 10 {
				t.Fatalf("%s: %+v", ns.Node, ns)
			}
			got[ns.Node] = ns.Samples[0]
			if ps := ns.Projects["p"]; len(ps) == 1 {
				proj[ns.Node] = ps[0]
			}
		}
		wantA := pubsub.Sample{Time: now.Unix(), Publications: 3, APIRequests: 4, APIErrors: 1}
		wantB := pubsub.Sample{Time: now.Unix(), Connections: 1, Deliveries: 3}
		if fmt.Sprint(got) != fmt.Sprint(map[string]pubsub.Sample{"node0": wantA, "node1": wantB}) {
			t.Errorf("node samples seen from %s: %+v", s.node.ID(), got)
		}
		wantPB := pubsub.Sample{Time: now.Unix(), Connections: 1}
		if fmt.Sprint(proj) != fmt.Sprint(map[string]pubsub.Sample{"node0": wantA, "node1": wantPB}) {
			t.Errorf("project samples seen from %s: %+v", s.node.ID(), proj)
		}
	}
}
