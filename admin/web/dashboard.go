package web

import (
	"net/http"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/views"
)

// nodeSummary is what the dashboard and its stats JSON show.
type nodeSummary struct {
	nodes    []pubsub.NodeInfo
	projects int
	err      string
}

func (h *Handler) dashboardData(r *http.Request) nodeSummary {
	var d nodeSummary
	if projects, err := h.opts.Store.Projects(r.Context()); err == nil {
		d.projects = len(projects)
	}
	if h.opts.Node == nil {
		d.err = "Node statistics are not available."
		return d
	}
	nodes, err := h.opts.Node.Nodes(r.Context())
	if err != nil {
		h.log.Warn("list nodes", "err", err)
		d.err = "Node statistics are not available: " + pubsub.AsError(err).Message
	}
	d.nodes = nodes
	return d
}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) {
	d := dashboardView(h.dashboardData(r))
	d.Charts = h.charts(r, "")
	h.render(w, r, http.StatusOK, views.DashboardPage(h.page(r, "Dashboard"), d))
}

// stats is the JSON the dashboard script polls.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request) {
	d := h.dashboardData(r)
	t := totals(d.nodes)
	nodes := d.nodes
	if nodes == nil {
		nodes = []pubsub.NodeInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"nodes": nodes,
		"totals": map[string]any{
			"nodes": len(d.nodes), "clients": t.Clients, "channels": t.Channels,
			"publications_per_s": t.PublicationsPerSec,
		},
	})
}
