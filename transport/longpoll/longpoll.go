// Package longpoll holds what Rotor's long poll keeps outside one HTTP
// request (docs/protocol.md, Long poll): the sink that gathers an answer's
// events, and the subscriptions of answered polls, parked for the
// client's next poll so that it resumes them instead of subscribing and
// reading history again.
package longpoll

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/park"
)

// ParkTTL is how long an answered poll's subscription waits for the
// client's next poll.
const ParkTTL = 2 * time.Second

// maxParkedBuf bounds the answer buffer a parked poll keeps for reuse.
const maxParkedBuf = 64 << 10

// Sink gathers events as the JSON array of a poll answer.
type Sink struct {
	// Buf holds the events, comma-separated; N counts them.
	Buf []byte
	N   int
	// ended: it got `unsub` or `disconnect`, so its stream is not parked.
	ended bool
}

var _ node.Sink = (*Sink)(nil)

// Event implements node.Sink.
func (s *Sink) Event(kind pubsub.EventKind, _ []byte, data []byte) {
	if s.N > 0 {
		s.Buf = append(s.Buf, ',')
	}
	s.N++
	s.ended = s.ended || kind == pubsub.EventUnsub || kind == pubsub.EventDisconnect
	s.Buf = append(s.Buf, `{"event":"`...)
	s.Buf = append(s.Buf, kind.String()...)
	s.Buf = append(s.Buf, `","data":`...)
	s.Buf = append(s.Buf, data...)
	s.Buf = append(s.Buf, '}')
}

// reset empties the sink for the next answer.
func (s *Sink) reset() {
	s.Buf, s.N, s.ended = s.Buf[:0], 0, false
	if cap(s.Buf) > maxParkedBuf {
		s.Buf = nil
	}
}

// Key says which poll takes up a parked subscription: one of the same
// project (the same snapshot of it: a changed project matches nothing),
// address, HTTP version, token and channels, resuming from the id the
// parked one answered.
type Key struct {
	project                             *structure.Project
	ip, version, token, channels, since string
}

// KeyOf returns the park key of a poll, and false when its stream may not
// be parked: only the inline form without subscription tokens or private
// channels is (all a new poll would check again is its token, whose
// expiry Take checks), and only with no per-IP or per-client limit, which
// a parked stream would go on holding.
func KeyOf(req node.StreamRequest, limits node.Limits) (Key, bool) {
	// Each name with its length first: no two lists give the same string.
	var chans []byte
	for _, c := range req.Channels {
		chans = strconv.AppendInt(chans, int64(len(c)), 10)
		chans = append(chans, ':')
		chans = append(chans, c...)
	}
	ok := !req.GrantForm && len(req.SubTokens) == 0 && !bytes.ContainsRune(chans, '$') &&
		limits.ConnectionsPerIP == 0 && limits.StreamsPerClient == 0 && limits.ChannelsPerClient == 0
	return Key{req.Project, req.IP, req.HTTPVersion, req.Token, string(chans), req.Since}, ok
}

// parked is an answered poll's stream and sink.
type parked struct {
	st   *node.Stream
	sink *Sink
}

// Parking holds answered polls' streams for the clients' next polls.
type Parking struct {
	p *park.Park[Key, parked]
}

// NewParking returns an empty parking whose streams wait at most ttl
// (ParkTTL in the server); Run it.
func NewParking(ttl time.Duration) *Parking {
	return &Parking{p: park.New[Key](ttl, func(p parked) { p.st.Close() })}
}

// Take gives the caller the stream parked under k, with its sink holding
// what was queued for it since: exactly what a new stream resuming from
// k's since would send. A parked stream that has ended, lost a channel,
// whose token expired, or whose engine cannot be reached is closed
// instead, and Take reports false: a new stream answers then as it would
// have.
func (p *Parking) Take(ctx context.Context, k Key) (*node.Stream, *Sink, bool) {
	pp, ok := p.p.Take(k)
	if !ok {
		return nil, nil, false
	}
	pp.sink.reset()
	exp := pp.st.Expires()
	if (exp.IsZero() || time.Now().Before(exp)) && pp.st.Reachable(ctx) == nil && pp.st.Fill(ctx) && !pp.sink.ended {
		return pp.st, pp.sink, true
	}
	pp.st.Close()
	return nil, nil, false
}

// Put parks st, whose answer had id since, under k with that since. It
// reports false when st may not be parked (its sink ended, or the parking
// is closed); the caller still owns st then, and otherwise no longer does.
func (p *Parking) Put(k Key, since string, st *node.Stream, sink *Sink) bool {
	if sink.ended {
		return false
	}
	k.since = since
	return p.p.Put(k, parked{st, sink})
}

// Len returns how many streams are parked.
func (p *Parking) Len() int { return p.p.Len() }

// Sweep closes the streams parked before now minus the parking's ttl.
func (p *Parking) Sweep(now time.Time) int { return p.p.Sweep(now) }

// Run closes streams parked for the parking's ttl until ctx ends, then closes the
// parking.
func (p *Parking) Run(ctx context.Context) { p.p.Run(ctx) }

// Close closes every parked stream and parks no more.
func (p *Parking) Close() { p.p.Close() }
