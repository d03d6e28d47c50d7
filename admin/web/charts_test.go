package web

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/views"
)

// TestChartsView: samples of nodes out of step land on one axis, the total
// sums them, rates are per second, and the SVG shows the last values
// without any script.
func TestChartsView(t *testing.T) {
	t.Parallel()
	now := time.Unix(10_000, 0)
	series := []pubsub.NodeSeries{
		{Node: "a", Every: 10, Samples: []pubsub.Sample{
			{Time: 9_981, Connections: 2, Publications: 50}, {Time: 9_991, Connections: 3, Publications: 100},
		}, Projects: map[string][]pubsub.Sample{"p": {{Time: 9_991, Connections: 1, APIRequests: 20}}}},
		{Node: "b", Every: 10, Samples: []pubsub.Sample{{Time: 9_999, Connections: 4, APIErrors: 10}}},
	}
	c := chartsView(series, "", now, "/admin/charts")
	if len(c.Charts) != 5 {
		t.Fatalf("%d charts", len(c.Charts))
	}
	conn := c.Charts[0]
	if len(conn.Lines) != 3 || conn.Lines[2].Name != "total" || !conn.Lines[2].Total {
		t.Fatalf("lines %+v", conn.Lines)
	}
	last := chartPoints - 1
	if got := conn.Lines[2].Values[last]; got != 7 {
		t.Errorf("total connections now %v, want 7 (3 on a, 4 on b)", got)
	}
	if got := conn.Lines[0].Values[last-1]; got != 2 {
		t.Errorf("a's connections a sample ago %v, want 2", got)
	}
	if !math.IsNaN(conn.Lines[1].Values[last-1]) {
		t.Errorf("b has no sample a sample ago, got %v", conn.Lines[1].Values[last-1])
	}
	if got := c.Charts[1].Lines[2].Values[last]; got != 10 {
		t.Errorf("publications/s now %v, want 10", got)
	}
	p := chartsView(series, "p", now, "")
	if len(p.Charts) != 4 || p.Charts[0].Title != "Subscriptions" || p.Charts[2].Lines[0].Values[last] != 2 {
		t.Errorf("project charts %+v", p.Charts)
	}

	var b strings.Builder
	if err := views.ChartsBody(c).Render(t.Context(), &b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{`<polyline points="`, `id="chart-connections"`, `total: <b class="last">7</b>`, `a: <b class="last">10/s</b>`} {
		if !strings.Contains(html, want) {
			t.Errorf("rendered charts lack %q", want)
		}
	}
}
