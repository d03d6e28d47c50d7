package memory

import (
	"testing"

	"github.com/rotor-rt/rotor/pubsub/enginetest"
)

// TestConformance runs the engine contract's suite on a fake clock.
func TestConformance(t *testing.T) {
	t.Parallel()
	enginetest.Run(t, enginetest.Config{
		New: func(t *testing.T) enginetest.Instance {
			clock := newFakeClock()
			e := New(Options{Now: clock.Now})
			return enginetest.Instance{
				Parts:   enginetest.Parts{Delivery: e, Broker: e, Presence: e, Revoker: e, Health: e},
				Advance: clock.Advance,
			}
		},
		Capabilities:         enginetest.HealthChecker,
		DeliversUnsubscribed: true,
	})
}
