package transport

import (
	"net"
	"net/http"
	"strings"
)

// clientIP returns the address limits count a request under: the trusted
// proxy header when configured, else the TCP peer.
func (s *Server) clientIP(r *http.Request) string {
	if h := s.opts.ClientIPHeader; h != "" {
		if v := r.Header.Get(h); v != "" {
			// The last entry is the one the trusted proxy wrote; earlier
			// ones come from the client and can be forged.
			if i := strings.LastIndexByte(v, ','); i >= 0 {
				v = v[i+1:]
			}
			return strings.TrimSpace(v)
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
