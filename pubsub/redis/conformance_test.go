package redis

import (
	"testing"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/enginetest"
)

// conformance returns the suite's config for engines on url: each subtest
// gets a prefix of its own, and its peer shares it as a second node would.
func conformance(url string) enginetest.Config {
	return enginetest.Config{
		New: func(t *testing.T) enginetest.Instance {
			e := newEngine(t, url, "")
			return enginetest.Instance{
				Engine: e,
				Peer:   func(t *testing.T) pubsub.Engine { return newEngine(t, url, e.opts.Prefix) },
			}
		},
		Capabilities: enginetest.NodeDirectory | enginetest.ChannelLister | enginetest.HealthChecker | enginetest.SeriesDirectory | enginetest.ProjectWatcher,
	}
}

// TestConformance runs the engine contract's suite on one Redis; TestCluster
// runs it on a Cluster.
func TestConformance(t *testing.T) {
	t.Parallel()
	enginetest.Run(t, conformance(startServer(t).URL()))
}
