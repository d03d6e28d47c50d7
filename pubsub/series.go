package pubsub

import (
	"context"
	"time"
)

// Sample is one point of a node's recent activity: the state at the end
// of one interval and what happened during it.
type Sample struct {
	// Time is the end of the interval, in Unix seconds.
	Time int64 `json:"t"`
	// Connections is the open streams and pending polls at Time (for a
	// project: its channel subscriptions).
	Connections int `json:"c"`
	// Publications, Deliveries, APIRequests and APIErrors count what
	// happened during the interval.
	Publications uint64 `json:"p"`
	Deliveries   uint64 `json:"d,omitempty"`
	APIRequests  uint64 `json:"a"`
	APIErrors    uint64 `json:"e"`
}

// NodeSeries is a node's recent activity, oldest sample first, for the
// admin dashboard's charts.
type NodeSeries struct {
	Node string `json:"node"`
	// Every is the interval between samples, in seconds.
	Every int64 `json:"every"`
	// Samples are the node's own; Projects the per-project ones, for
	// projects active in the window.
	Samples  []Sample            `json:"samples"`
	Projects map[string][]Sample `json:"projects,omitempty"`
}

// SeriesDirectory is an optional engine capability, like NodeDirectory:
// engines that join nodes share each node's recent activity. Without it,
// a node charts only itself. Like NodeDirectory, nothing probes an engine
// for it: cmd/rotor gives it to the node as an option.
type SeriesDirectory interface {
	UpdateSeries(ctx context.Context, s NodeSeries, ttl time.Duration) error
	Series(ctx context.Context) ([]NodeSeries, error)
}
