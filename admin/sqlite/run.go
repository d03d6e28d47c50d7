package sqlite

import (
	"context"
	"time"
)

// PollInterval is how often Run checks the file for writes made by other
// processes.
const PollInterval = 250 * time.Millisecond

// Run keeps the in-memory structure fresh until ctx is done. Every
// PollInterval it reads the one-row structure version (cheap: one indexed
// row); when another process wrote, it reloads and calls changed. It also
// reloads, without calling changed, when Invalidate is called (a notice
// from another node has already been broadcast). changed may be nil.
func (s *Store) Run(ctx context.Context, changed func()) {
	t := time.NewTicker(PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.invalidate:
			if err := s.reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reload after invalidate", "err", err)
			}
		case <-t.C:
			v, err := readVersion(ctx, s.r)
			if err != nil {
				if ctx.Err() == nil {
					s.log.Warn("poll structure version", "err", err)
				}
				continue
			}
			if v == s.snap.Load().version {
				continue
			}
			if err := s.reload(ctx); err != nil {
				if ctx.Err() == nil {
					s.log.Warn("reload structure", "err", err)
				}
				continue
			}
			if changed != nil {
				changed()
			}
		}
	}
}

// Invalidate asks Run to reload the structure from the file, for a
// "structure changed" notice from another node. It never blocks.
func (s *Store) Invalidate() {
	select {
	case s.invalidate <- struct{}{}:
	default: // a reload is already pending
	}
}
