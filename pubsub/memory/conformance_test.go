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
			return enginetest.Instance{Engine: New(Options{Now: clock.Now}), Advance: clock.Advance}
		},
		Capabilities:         enginetest.HealthChecker,
		DeliversUnsubscribed: true,
	})
}
