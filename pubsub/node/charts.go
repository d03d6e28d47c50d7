package node

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// The admin dashboard's charts come from a short history each node keeps
// in memory: one pubsub.Sample every ChartEvery, the last ChartSamples of
// them (15 minutes), for the node and for each project active in that
// window. A sample is 48 bytes, so a ring is 90 × 48 = 4,320 bytes: a node
// holds about 4.3 KB plus 4.3 KB per active project, and shares the same
// as JSON (about 5 KB per ring) through the engine like the node table.
const (
	ChartEvery   = 10 * time.Second
	ChartSamples = 90
)

// sampleRing is a fixed ring of the newest ChartSamples samples.
type sampleRing struct {
	s    [ChartSamples]pubsub.Sample
	next int
	n    int
	// idle counts samples in a row with nothing in them (projects only).
	idle int
}

func (r *sampleRing) add(s pubsub.Sample) {
	r.s[r.next] = s
	r.next = (r.next + 1) % ChartSamples
	r.n = min(r.n+1, ChartSamples)
	if s.Connections == 0 && s.Publications == 0 && s.APIRequests == 0 {
		r.idle++
	} else {
		r.idle = 0
	}
}

// list returns the samples, oldest first.
func (r *sampleRing) list() []pubsub.Sample {
	out := make([]pubsub.Sample, 0, r.n)
	for i := range r.n {
		out = append(out, r.s[(r.next-r.n+i+ChartSamples)%ChartSamples])
	}
	return out
}

// activity counts what happens between two samples, for the node and per
// project. Counting is an atomic add; the per-project counters are found
// in a sync.Map, created on a project's first event.
type activity struct {
	pubs, apiReqs, apiErrs atomic.Uint64
	projects               sync.Map // project id → *projectActivity
}

type projectActivity struct{ pubs, apiReqs, apiErrs atomic.Uint64 }

func (a *activity) project(id string) *projectActivity {
	if v, ok := a.projects.Load(id); ok {
		return v.(*projectActivity)
	}
	v, _ := a.projects.LoadOrStore(id, &projectActivity{})
	return v.(*projectActivity)
}

// published counts one publication made on this node.
func (a *activity) published(project string) {
	a.pubs.Add(1)
	a.project(project).pubs.Add(1)
}

// apiCalled counts one server API request; project is "" when the request
// never got as far as naming one.
func (a *activity) apiCalled(project string, failed bool) {
	a.apiReqs.Add(1)
	if failed {
		a.apiErrs.Add(1)
	}
	if project == "" {
		return
	}
	p := a.project(project)
	p.apiReqs.Add(1)
	if failed {
		p.apiErrs.Add(1)
	}
}

// charts is the node's history.
type charts struct {
	act activity

	mu        sync.Mutex
	node      sampleRing
	projects  map[string]*sampleRing
	lastDeliv uint64
}

func newCharts() *charts { return &charts{projects: map[string]*sampleRing{}} }

// sample takes one sample of the node and its projects at now.
func (c *charts) sample(now time.Time, st pubsub.HubStats, chans map[string]int) {
	subs := map[string]int{}
	for key, n := range chans {
		if p, _, ok := strings.Cut(key, "|"); ok {
			subs[p] += n
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := now.Unix()
	c.node.add(pubsub.Sample{
		Time: t, Connections: st.Streams, Publications: c.act.pubs.Swap(0),
		Deliveries: st.Deliveries - c.lastDeliv, APIRequests: c.act.apiReqs.Swap(0), APIErrors: c.act.apiErrs.Swap(0),
	})
	c.lastDeliv = st.Deliveries
	seen := map[string]bool{}
	c.act.projects.Range(func(k, v any) bool {
		id, pa := k.(string), v.(*projectActivity)
		seen[id] = true
		c.ring(id).add(pubsub.Sample{Time: t, Connections: subs[id], Publications: pa.pubs.Swap(0),
			APIRequests: pa.apiReqs.Swap(0), APIErrors: pa.apiErrs.Swap(0)})
		return true
	})
	for id, n := range subs {
		if !seen[id] {
			c.ring(id).add(pubsub.Sample{Time: t, Connections: n})
		}
	}
	for id, r := range c.projects {
		if !seen[id] && subs[id] == 0 {
			r.add(pubsub.Sample{Time: t})
		}
		if r.idle >= ChartSamples {
			delete(c.projects, id)
			c.act.projects.Delete(id)
		}
	}
}

func (c *charts) ring(project string) *sampleRing {
	r := c.projects[project]
	if r == nil {
		r = &sampleRing{}
		c.projects[project] = r
	}
	return r
}

// series returns the node's history as shared with other nodes.
func (c *charts) series(node string) pubsub.NodeSeries {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := pubsub.NodeSeries{Node: node, Every: int64(ChartEvery / time.Second), Samples: c.node.list()}
	if len(c.projects) > 0 {
		s.Projects = make(map[string][]pubsub.Sample, len(c.projects))
		for id, r := range c.projects {
			s.Projects[id] = r.list()
		}
	}
	return s
}

// run samples every ChartEvery and shares the history through the
// engine when it can, until ctx is done.
func (o *Ops) run(ctx context.Context) {
	tick := time.NewTicker(ChartEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			o.SampleCharts(ctx, now)
		}
	}
}

// SeriesDirectory shares each node's recent activity between the nodes an
// engine joins (the Redis engine has one), for the admin charts.
type SeriesDirectory interface {
	UpdateSeries(ctx context.Context, s pubsub.NodeSeries, ttl time.Duration) error
	Series(ctx context.Context) ([]pubsub.NodeSeries, error)
}

// SampleCharts takes one chart sample at now and shares the node's
// history through the engine when it can; the node does it every
// ChartEvery.
func (o *Ops) SampleCharts(ctx context.Context, now time.Time) {
	o.charts.sample(now, o.hub.Stats(), o.hub.Channels())
	if o.series != nil {
		if err := o.series.UpdateSeries(ctx, o.charts.series(o.nodeID), 3*ChartEvery); err != nil {
			o.log.Warn("share chart samples", "err", err)
		}
	}
}

// Series returns the recent activity of every node sharing it through the
// engine, else of this node alone.
func (o *Ops) Series(ctx context.Context) ([]pubsub.NodeSeries, error) {
	if o.series != nil {
		s, err := o.series.Series(ctx)
		if err != nil {
			return nil, err
		}
		if len(s) > 0 {
			return s, nil
		}
	}
	return []pubsub.NodeSeries{o.charts.series(o.nodeID)}, nil
}

// Series gives the admin charts every node's recent activity.
func (b *AdminBridge) Series(ctx context.Context) ([]pubsub.NodeSeries, error) {
	return b.n.ops.Series(ctx)
}
