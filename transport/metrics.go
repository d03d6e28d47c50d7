package transport

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Collectors returns the node's Prometheus metrics, read from the hub's
// counters at scrape time so the hot path pays nothing for them.
func (n *Node) Collectors() []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "rotor", Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "rotor", Name: name, Help: help}, f)
	}
	return []prometheus.Collector{
		gauge("streams", "Open SSE streams and pending long polls.", func() float64 { return float64(n.hub.Stats().Streams) }),
		gauge("channels", "Channels with local subscribers.", func() float64 { return float64(n.hub.Stats().Channels) }),
		gauge("subscriptions", "Channel subscriptions of open streams.", func() float64 { return float64(n.hub.Stats().Subscriptions) }),
		counter("publications_total", "Publications delivered to this node.", func() float64 { return float64(n.hub.Stats().Publications) }),
		counter("deliveries_total", "Messages queued to streams.", func() float64 { return float64(n.hub.Stats().Deliveries) }),
		counter("slow_disconnects_total", "Streams ended because their queue overflowed.", func() float64 { return float64(n.hub.Stats().Slow) }),
	}
}
