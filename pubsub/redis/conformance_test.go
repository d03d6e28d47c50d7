package redis

import (
	"testing"

	"github.com/rotor-rt/rotor/pubsub/enginetest"
)

// conformance returns the suite's config for engines on url: each subtest
// gets a prefix of its own, and its peer shares it as a second node would.
func conformance(url string) enginetest.Config {
	return enginetest.Config{
		New: func(t *testing.T) enginetest.Instance {
			e := newEngine(t, url, "")
			return enginetest.Instance{
				Parts: parts(e),
				Peer:  func(t *testing.T) enginetest.Parts { return parts(newEngine(t, url, e.opts.Prefix)) },
			}
		},
		Capabilities: enginetest.NodeDirectory | enginetest.ChannelLister | enginetest.HealthChecker | enginetest.SeriesDirectory | enginetest.ProjectWatcher,
	}
}

// parts gives the suite every part of e.
func parts(e *Engine) enginetest.Parts {
	return enginetest.Parts{
		Delivery: e, Broker: e.Broker(), Presence: e.Presence(), Revoker: e.Revoker(),
		Nodes: e.Directory(), Channels: e.Directory(), Health: e.Health(), Series: e.Directory(), Watcher: e.Watcher(),
	}
}

// TestConformance runs the engine contract's suite on one Redis; TestCluster
// runs it on a Cluster.
func TestConformance(t *testing.T) {
	t.Parallel()
	enginetest.Run(t, conformance(startServer(t).URL()))
}
