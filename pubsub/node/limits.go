package node

import (
	"fmt"
	"sync"

	"github.com/rotor-rt/rotor/pubsub"
)

// Limit names, as reported in the rotor_limit_refusals_total metric.
const (
	limitConnectionsPerIP  = "connections_per_ip"
	limitStreamsPerClient  = "streams_per_client"
	limitChannelsPerClient = "channels_per_client"
	limitChannelsPerStream = "channels_per_stream"
	limitPublishRate       = "publish_rate"
	limitCommandRate       = "command_rate"
	limitAPIRate           = "api_rate"
	limitMessageSize       = "message_size"
)

// usage counts what open streams, polls and unfinished request bodies hold on this node, for the
// per-IP and per-client limits. Limits are per node: behind a load
// balancer each node applies them to what it serves.
type usage struct {
	mu      sync.Mutex
	ips     map[string]int
	streams map[string]int
	chans   map[string]int
	// bodies counts, per IP, requests whose body is still arriving; they
	// are in ips too.
	bodies map[string]int
}

func newUsage() *usage {
	return &usage{ips: map[string]int{}, streams: map[string]int{}, chans: map[string]int{}, bodies: map[string]int{}}
}

// Limiter applies the per-client and per-IP limits (Options.Limits) and
// the size of publication data, and counts its refusals by limit. Limits
// are per node: behind a load balancer each node applies them to what it
// serves.
type Limiter struct {
	limits            Limits
	maxData           int64
	channelsPerStream int
	usage             *usage
	rates             *rateLimiters
	metrics           *nodeMetrics
}

// Limits returns the node's limiter.
func (n *Node) Limits() *Limiter { return n.limits }

// acquire reserves a stream for client from ip with chans channels, or
// says which limit refuses it. release must be called once when the stream
// ends.
func (n *Limiter) acquire(ip, client string, chans int) (release func(), bad *pubsub.Error) {
	l := n.limits
	if l.ConnectionsPerIP <= 0 && l.StreamsPerClient <= 0 && l.ChannelsPerClient <= 0 {
		// Nothing to count: no entry per stream in the maps (an idle
		// stream's memory) and no lock.
		return noRelease, nil
	}
	u := n.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	var limit string
	switch {
	case l.ConnectionsPerIP > 0 && u.ips[ip] >= l.ConnectionsPerIP:
		limit = limitConnectionsPerIP
	case l.StreamsPerClient > 0 && u.streams[client] >= l.StreamsPerClient:
		limit = limitStreamsPerClient
	case l.ChannelsPerClient > 0 && u.chans[client]+chans > l.ChannelsPerClient:
		limit = limitChannelsPerClient
	}
	if limit != "" {
		n.refusedBy(limit)
		return nil, pubsub.Errorf(pubsub.CodeLimitExceeded, "limit exceeded: %s", limit)
	}
	// Each map counts only for its limit: an entry per stream costs memory.
	perIP, perClient, chansPerClient := l.ConnectionsPerIP > 0, l.StreamsPerClient > 0, l.ChannelsPerClient > 0
	if perIP {
		u.ips[ip]++
	}
	if perClient {
		u.streams[client]++
	}
	if chansPerClient {
		u.chans[client] += chans
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			defer u.mu.Unlock()
			if perIP {
				dec(u.ips, ip, 1)
			}
			if perClient {
				dec(u.streams, client, 1)
			}
			if chansPerClient {
				dec(u.chans, client, chans)
			}
		})
	}, nil
}

// noRelease is the release of a stream no limit counted.
func noRelease() {}

// HoldIP reserves a connection slot for ip, for a request that is still
// sending its body: a slow body ties up a connection as a stream does, so
// it counts toward connections_per_ip until it is read, and streams are
// refused while bodies fill the slots. The body itself is refused only
// when connections_per_ip bodies from ip are already arriving, so that a
// client with all its streams open can still send commands and a backend
// sharing an IP with browsers can still call the API: at worst an IP holds
// twice the limit, half of it bodies cut by the body timeout. release must
// be called once.
func (n *Limiter) HoldIP(ip string) (release func(), bad *pubsub.Error) {
	limit := n.limits.ConnectionsPerIP
	if limit <= 0 {
		return func() {}, nil
	}
	u := n.usage
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.bodies[ip] >= limit {
		n.refusedBy(limitConnectionsPerIP)
		return nil, pubsub.Errorf(pubsub.CodeLimitExceeded, "limit exceeded: %s", limitConnectionsPerIP)
	}
	u.ips[ip]++
	u.bodies[ip]++
	var once sync.Once
	return func() {
		once.Do(func() {
			u.mu.Lock()
			defer u.mu.Unlock()
			dec(u.ips, ip, 1)
			dec(u.bodies, ip, 1)
		})
	}, nil
}

func dec(m map[string]int, k string, by int) {
	if m[k] <= by {
		delete(m, k)
		return
	}
	m[k] -= by
}

// refusedBy counts a refusal by a limit.
func (n *Limiter) refusedBy(limit string) {
	n.metrics.refusals.WithLabelValues(limit).Inc()
}

// Held returns how many connection slots ip holds on this node: its open
// streams and polls, and its request bodies still arriving.
func (n *Limiter) Held(ip string) int {
	n.usage.mu.Lock()
	defer n.usage.mu.Unlock()
	return n.usage.ips[ip]
}

// checkChannelCount applies limits.channels_per_stream before any grant or
// channel is looked at, so a long list costs no verification work.
func (n *Limiter) checkChannelCount(count int) *pubsub.Error {
	if count <= n.channelsPerStream {
		return nil
	}
	n.refusedBy(limitChannelsPerStream)
	return &pubsub.Error{Code: pubsub.CodeLimitExceeded, Kind: pubsub.KindBadRequest,
		Message: fmt.Sprintf("too many channels in one stream (limit %d)", n.channelsPerStream)}
}

// CheckSize refuses publication data of size bytes when it is over the
// limit (Options.MaxData), counting the refusal.
func (n *Limiter) CheckSize(size int) *pubsub.Error {
	if int64(size) > n.maxData {
		n.refusedBy(limitMessageSize)
		return pubsub.Errorf(pubsub.CodeLimitExceeded, "data is larger than %d bytes", n.maxData)
	}
	return nil
}

// MaxData is the largest publication data accepted, in bytes.
func (n *Limiter) MaxData() int64 { return n.maxData }

// AllowAPI applies limits.api_rate to one request made with key (or
// another secret of the caller's, like a Pusher app's).
func (n *Limiter) AllowAPI(key string) *pubsub.Error {
	if !n.rates.allowAPI(key) {
		n.refusedBy(limitAPIRate)
		return pubsub.Errorf(pubsub.CodeTooManyRequests, "too many requests")
	}
	return nil
}
