package web

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/views"
)

// Charter is the optional part of Node behind the charts: every node's
// recent activity (transport.AdminBridge has it).
type Charter interface {
	Series(ctx context.Context) ([]pubsub.NodeSeries, error)
}

// chartPoints is how many points a chart spans: 90 × 10s, the 15 minutes
// each node keeps.
const chartPoints = 90

// charts builds the dashboard's charts (project "") or a project's.
func (h *Handler) charts(r *http.Request, project string) views.Charts {
	src := h.opts.BasePath + "/charts"
	if project != "" {
		src += "?project=" + url.QueryEscape(project)
	}
	c := views.Charts{Src: src}
	ch, _ := h.opts.Node.(Charter)
	if ch == nil {
		c.Err = "Charts are not available."
		return c
	}
	series, err := ch.Series(r.Context())
	if err != nil {
		h.log.Warn("chart series", "err", err)
		c.Err = "Charts are not available: " + pubsub.AsError(err).Message
		return c
	}
	return chartsView(series, project, h.opts.Now(), src)
}

// chartsView lays every node's samples on one time axis: the chartPoints
// intervals up to the newest, each sample in the interval its time falls in (the
// nodes sample out of step), and adds a total line.
func chartsView(series []pubsub.NodeSeries, project string, now time.Time, src string) views.Charts {
	every := int64(10)
	for _, s := range series {
		if s.Every > 0 {
			every = s.Every
			break
		}
	}
	c := views.Charts{Src: src, Window: "Last 15 minutes, one point per " + (time.Duration(every) * time.Second).String() + ", per node and in total."}
	// The axis ends at the newest sample (a node samples at the end of
	// its interval, so the current interval is usually still empty), or
	// now when there is none.
	end := int64(math.MinInt64)
	for _, s := range series {
		for _, smp := range s.Samples {
			end = max(end, smp.Time/every)
		}
	}
	if now := now.Unix() / every; end > now || end < now-2 {
		end = now
	}
	first := end - chartPoints + 1
	type metric struct {
		id, title, unit string
		value           func(pubsub.Sample) float64
	}
	perSec := func(f func(pubsub.Sample) uint64) func(pubsub.Sample) float64 {
		return func(s pubsub.Sample) float64 { return float64(f(s)) / float64(every) }
	}
	metrics := []metric{
		{"connections", "Connections", "", func(s pubsub.Sample) float64 { return float64(s.Connections) }},
		{"publications", "Publications/s", "/s", perSec(func(s pubsub.Sample) uint64 { return s.Publications })},
		{"deliveries", "Deliveries/s", "/s", perSec(func(s pubsub.Sample) uint64 { return s.Deliveries })},
		{"api", "API requests/s", "/s", perSec(func(s pubsub.Sample) uint64 { return s.APIRequests })},
		{"api_errors", "API errors/s", "/s", perSec(func(s pubsub.Sample) uint64 { return s.APIErrors })},
	}
	if project != "" {
		// Per project a node counts the subscriptions to the project's
		// channels; deliveries are only counted per node.
		metrics[0].title = "Subscriptions"
		metrics = slices.Delete(metrics, 2, 3)
	}
	for _, m := range metrics {
		chart := views.Chart{ID: m.id, Title: m.title, Unit: m.unit}
		total := nanLine(chartPoints)
		for _, s := range series {
			samples := s.Samples
			if project != "" {
				samples = s.Projects[project]
			}
			line := views.Line{Name: s.Node, Values: nanLine(chartPoints)}
			for _, smp := range samples {
				i := smp.Time/every - first
				if i < 0 || i >= chartPoints {
					continue
				}
				v := m.value(smp)
				line.Values[i] = v
				if math.IsNaN(total[i]) {
					total[i] = 0
				}
				total[i] += v
			}
			chart.Lines = append(chart.Lines, line)
		}
		chart.Lines = append(chart.Lines, views.Line{Name: "total", Values: total, Total: true})
		c.Charts = append(c.Charts, chart)
	}
	return c
}

func nanLine(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = math.NaN()
	}
	return v
}

// chartsFragment serves the charts alone, for the page script to swap in.
func (h *Handler) chartsFragment(w http.ResponseWriter, r *http.Request) {
	project := r.URL.Query().Get("project")
	if project != "" {
		if _, err := h.opts.Store.Project(r.Context(), project); err != nil {
			h.storeError(w, r, err)
			return
		}
	}
	h.render(w, r, http.StatusOK, views.ChartsBody(h.charts(r, project)))
}
