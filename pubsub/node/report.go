package node

import (
	"context"
	"math"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
)

// reportEvery is how often a node measures its publication rate and
// shares its info and channel counts with other nodes.
const reportEvery = 2 * time.Second

// reportLoop runs until ctx is done.
func (n *Node) reportLoop(ctx context.Context) {
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
func (n *Node) share(ctx context.Context) {
	ttl := 3 * reportEvery
	if d, ok := n.engine.(pubsub.NodeDirectory); ok {
		if err := d.UpdateNode(ctx, n.localInfo(), ttl); err != nil {
			n.log.Warn("share node info", "err", err)
		}
	}
	if r, ok := n.engine.(pubsub.ChannelCountReporter); ok {
		if err := r.ReportChannels(ctx, n.opts.NodeID, n.hub.Channels(), ttl); err != nil {
			n.log.Warn("share channel counts", "err", err)
		}
	}
}
