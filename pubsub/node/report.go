package node

import (
	"context"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// reportEvery is how often a node measures its publication rate and
// shares its info and channel counts with other nodes.
const reportEvery = 2 * time.Second

// NodeDirectory shares each node's info between the nodes an engine joins
// (the Redis engine has one; the memory engine serves one process and has
// none).
type NodeDirectory interface {
	UpdateNode(ctx context.Context, info pubsub.NodeInfo, ttl time.Duration) error
	Nodes(ctx context.Context) ([]pubsub.NodeInfo, error)
}

// ChannelDirectory shares each node's active channels and their
// subscriber counts: a node reports its own, and lists every node's for
// keys matching a glob (path.Match syntax, over the whole key).
type ChannelDirectory interface {
	ReportChannels(ctx context.Context, nodeID string, counts map[string]int, ttl time.Duration) error
	Channels(ctx context.Context, pattern string) (map[string]int, error)
}

// cluster is what this node tells the others about itself, and what it
// knows of them: its info and channel counts, shared every reportEvery,
// and the directory of live nodes. A nil directory means the engine does
// not join nodes: this node knows only itself.
type cluster struct {
	directory NodeDirectory
	channels  ChannelDirectory
	hub       *pubsub.Hub
	log       *slog.Logger
	nodeID    string
	version   string
	started   time.Time

	// pubRate is the publications per second seen by the hub over the
	// last report interval, as float64 bits.
	pubRate atomic.Uint64
}

// run measures and shares until ctx is done.
func (n *cluster) run(ctx context.Context) {
	tick := time.NewTicker(reportEvery)
	defer tick.Stop()
	last := n.hub.Stats().Publications
	lastAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			pubs := n.hub.Stats().Publications
			rate := float64(pubs-last) / now.Sub(lastAt).Seconds()
			last, lastAt = pubs, now
			n.pubRate.Store(math.Float64bits(rate))
			n.share(ctx)
		}
	}
}

// share publishes this node's info and channel counts where the engine
// keeps them; failures are logged and retried at the next tick.
func (n *cluster) share(ctx context.Context) {
	ttl := 3 * reportEvery
	if n.directory != nil {
		if err := n.directory.UpdateNode(ctx, n.localInfo(), ttl); err != nil {
			n.log.Warn("share node info", "err", err)
		}
	}
	if n.channels != nil {
		if err := n.channels.ReportChannels(ctx, n.nodeID, n.hub.Channels(), ttl); err != nil {
			n.log.Warn("share channel counts", "err", err)
		}
	}
}

// Nodes lists the running nodes: every node with an engine that shares
// them, else this one.
func (n *Node) Nodes(ctx context.Context) ([]pubsub.NodeInfo, error) { return n.cluster.nodes(ctx) }

func (n *cluster) nodes(ctx context.Context) ([]pubsub.NodeInfo, error) {
	if n.directory != nil {
		nodes, err := n.directory.Nodes(ctx)
		if err != nil {
			return nil, err
		}
		if len(nodes) > 0 {
			return nodes, nil
		}
	}
	return []pubsub.NodeInfo{n.localInfo()}, nil
}

// localInfo describes this node.
func (n *cluster) localInfo() pubsub.NodeInfo {
	st := n.hub.Stats()
	clients := st.Streams
	return pubsub.NodeInfo{
		ID: n.nodeID, Version: n.version,
		Uptime:  int64(time.Since(n.started) / time.Second),
		Clients: clients, Subscriptions: st.Subscriptions, Channels: st.Channels,
		PublicationsPerSec: math.Float64frombits(n.pubRate.Load()),
	}
}

// APIMethods lists the server API's methods.
func APIMethods() []string {
	out := make([]string, 0, len(apiMethods))
	for m := range apiMethods {
		out = append(out, m)
	}
	return out
}

// isReporter says whether this node reports reaped leaves to the events
// hook: the live node with the lowest id, or this one without a directory.
func (n *cluster) isReporter(ctx context.Context) bool {
	if n.directory == nil {
		return true
	}
	nodes, err := n.directory.Nodes(ctx)
	if err != nil {
		return false
	}
	for _, x := range nodes {
		if x.ID < n.nodeID {
			return false
		}
	}
	return true
}
