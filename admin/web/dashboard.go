package web

import (
	"net/http"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/views"
)

func (h *Handler) dashboardData(r *http.Request) views.Dashboard {
	var d views.Dashboard
	if projects, err := h.opts.Store.Projects(r.Context()); err == nil {
		d.Projects = len(projects)
	}
	if h.opts.Node == nil {
		d.Err = "Node statistics are not available."
		return d
	}
	nodes, err := h.opts.Node.Nodes(r.Context())
	if err != nil {
		h.log.Warn("list nodes", "err", err)
		d.Err = "Node statistics are not available: " + pubsub.AsError(err).Message
	}
	d.Nodes = nodes
	return d
}

func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, views.DashboardPage(h.page(r, "Dashboard"), h.dashboardData(r)))
}

// stats is the JSON the dashboard script polls.
func (h *Handler) stats(w http.ResponseWriter, r *http.Request) {
	d := h.dashboardData(r)
	t := d.Totals()
	nodes := d.Nodes
	if nodes == nil {
		nodes = []pubsub.NodeInfo{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"nodes": nodes,
		"totals": map[string]any{
			"nodes": len(d.Nodes), "clients": t.Clients, "channels": t.Channels,
			"publications_per_s": t.PublicationsPerSec,
		},
	})
}
