package redistest

import (
	"errors"
	"os"
)

// Signal sends sig to the running server: SIGSTOP and SIGCONT freeze and
// thaw it (a hung Redis whose connections stay open), which Kill and
// Restart cannot do.
func (s *Server) Signal(sig os.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("redistest: server not running")
	}
	return s.cmd.Process.Signal(sig)
}
