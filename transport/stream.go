package transport

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/rotor-rt/rotor/pubsub"
)

// eventSink receives a stream's events in wire form. SSE writes them as
// event-stream frames; a long poll gathers them into one JSON answer.
type eventSink interface {
	// event appends one event; id is nil for events that carry none.
	event(kind pubsub.EventKind, id []byte, data []byte)
}

// streamChan is one channel of a stream and where the stream stands in it.
type streamChan struct {
	ref  chanRef
	pos  pubsub.Position
	info *pubsub.ClientInfo
	// gone is set once the server unsubscribed the stream from it.
	gone bool
}

// streamState is what SSE and long polling share: the channels in order,
// their positions, and the logic that turns queued hub messages and history
// into events with no loss, no duplicate and no reordering (docs/protocol.md, Delivery
// guarantee).
type streamState struct {
	n     *Node
	st    *pubsub.Stream
	chans []streamChan
	sink  eventSink

	// lost says the client's resume id was unusable: fresh positions are
	// reported with recovered:false.
	lost bool

	positions []pubsub.Position
	idBuf     []byte
	queue     []pubsub.Queued
}

// unsubCode is the `unsub` code when the server ends a subscription.
const unsubCode = 2000

// id encodes every channel's current position: the stream id
// (docs/protocol.md, Stream id).
func (s *streamState) id() []byte {
	s.positions = s.positions[:0]
	for i := range s.chans {
		s.positions = append(s.positions, s.chans[i].pos)
	}
	s.idBuf = pubsub.AppendPositions(s.idBuf[:0], s.positions)
	return s.idBuf
}

// recovery is the outcome of catching one channel up with history.
type recovery struct {
	pubs      []*pubsub.Publication
	start     pubsub.Position
	recovered bool
}

// catchUp reads what channel c missed since `since` (nil: a fresh
// subscription, nothing missed). When history cannot cover the gap or the
// epoch changed, recovered is false and start is the channel's current top.
func (s *streamState) catchUp(ctx context.Context, c *streamChan, since *pubsub.Position) (recovery, error) {
	if since == nil {
		res, err := s.n.engine.History(ctx, c.ref.key, pubsub.HistoryRequest{Limit: 0})
		if err != nil {
			return recovery{}, wrapf(err, "position of %q", c.ref.ch.Full)
		}
		return recovery{start: res.Position, recovered: true}, nil
	}
	req := pubsub.HistoryRequest{Since: since, Limit: -1}
	if !c.ref.historyOn() {
		req.Limit = 0
	}
	res, err := s.n.engine.History(ctx, c.ref.key, req)
	if err != nil {
		return recovery{}, wrapf(err, "recover %q", c.ref.ch.Full)
	}
	if !covers(*since, res) {
		return recovery{start: res.Position, recovered: false}, nil
	}
	return recovery{pubs: res.Publications, start: *since, recovered: true}, nil
}

// covers reports whether a history read made with Since: since (and a
// limit of at least one) holds everything published after since: same
// epoch, and either nothing new or history starting right after it.
func covers(since pubsub.Position, res pubsub.HistoryResult) bool {
	top := res.Position
	if since.Epoch != top.Epoch || since.Offset > top.Offset {
		return false
	}
	return since.Offset == top.Offset ||
		(len(res.Publications) > 0 && res.Publications[0].Offset == since.Offset+1)
}

// subEvent is the data of a `sub` event.
type subEvent struct {
	Channel   string `json:"channel"`
	Epoch     string `json:"epoch"`
	Offset    uint64 `json:"offset"`
	Recovered bool   `json:"recovered"`
}

func (s *streamState) emitSub(c *streamChan, recovered bool) {
	b, _ := json.Marshal(subEvent{Channel: c.ref.ch.Full, Epoch: c.pos.Epoch, Offset: c.pos.Offset, Recovered: recovered})
	s.sink.event(pubsub.EventSub, s.id(), b)
}

// emitPub writes a publication read from history.
func (s *streamState) emitHistoryPub(c *streamChan, p *pubsub.Publication) {
	if p.Offset <= c.pos.Offset {
		return
	}
	c.pos.Offset = p.Offset
	p2 := *p
	p2.Channel = c.ref.ch.Full
	b, err := json.Marshal(&p2)
	if err != nil {
		s.n.log.Error("encode publication", "key", c.ref.key, "err", err)
		return
	}
	s.sink.event(pubsub.EventPub, s.id(), b)
}

// start sends the opening events. With since nil every channel starts at
// its current position; otherwise each resumes from its position in since
// (same length as chans). subAlways says whether `sub` events are sent for
// channels that resumed with nothing lost (SSE: yes; a poll: no, the client
// had them already).
func (s *streamState) start(ctx context.Context, since []pubsub.Position, subAlways bool) error {
	recs := make([]recovery, len(s.chans))
	for i := range s.chans {
		var sp *pubsub.Position
		if since != nil {
			sp = &since[i]
		}
		r, err := s.catchUp(ctx, &s.chans[i], sp)
		if err != nil {
			return err
		}
		if s.lost {
			r.recovered = false
		}
		recs[i] = r
		s.chans[i].pos = r.start
	}
	for i := range s.chans {
		if subAlways || !recs[i].recovered {
			s.emitSub(&s.chans[i], recs[i].recovered)
		}
	}
	for i := range s.chans {
		for _, p := range recs[i].pubs {
			s.emitHistoryPub(&s.chans[i], p)
		}
	}
	return nil
}

// resync checks channel i against history after a suspected gap.
func (s *streamState) resync(ctx context.Context, i int) error {
	c := &s.chans[i]
	if c.gone {
		return nil
	}
	since := c.pos
	r, err := s.catchUp(ctx, c, &since)
	if err != nil {
		return err
	}
	if !r.recovered {
		c.pos = r.start
		s.emitSub(c, false)
		return nil
	}
	for _, p := range r.pubs {
		s.emitHistoryPub(c, p)
	}
	return nil
}

// drain takes what the hub queued and turns it into events. An error
// means history could not be read to fill a gap.
func (s *streamState) drain(ctx context.Context) error {
	items, resync, unsub := s.st.Take(s.queue)
	s.queue = items
	if resync {
		for i := range s.chans {
			if s.chans[i].ref.historyOn() {
				if err := s.resync(ctx, i); err != nil {
					return err
				}
			}
		}
	}
	for qi := range items {
		q := items[qi]
		c := &s.chans[q.Chan]
		if c.gone {
			continue
		}
		m := q.Msg
		switch m.Kind {
		case pubsub.EventPub:
			if err := s.live(ctx, q.Chan, m); err != nil {
				return err
			}
		case pubsub.EventJoin, pubsub.EventLeave:
			s.sink.event(m.Kind, nil, m.JSON)
		}
		items[qi] = pubsub.Queued{}
	}
	// Unsubscribes come after the queued items: the hub stops queueing
	// for a channel before it marks the unsub, so everything queued for it
	// was published before and must still be delivered.
	for _, i := range unsub {
		c := &s.chans[i]
		if c.gone {
			continue
		}
		c.gone = true
		s.n.presence.exit(c.ref, s.st.Client(), true)
		b, _ := json.Marshal(map[string]any{"channel": c.ref.ch.Full, "code": unsubCode, "reason": "unsubscribed by server"})
		s.sink.event(pubsub.EventUnsub, nil, b)
	}
	return nil
}

// live handles one publication from the hub: drop duplicates, fill gaps
// from history, notice a new epoch.
func (s *streamState) live(ctx context.Context, i int, m *pubsub.Message) error {
	c := &s.chans[i]
	hist := c.ref.historyOn()
	if m.Epoch != c.pos.Epoch {
		if hist {
			if err := s.resync(ctx, i); err != nil {
				return err
			}
		} else {
			c.pos = pubsub.Position{Epoch: m.Epoch, Offset: m.Offset - 1}
			s.emitSub(c, false)
		}
	} else if hist && m.Offset > c.pos.Offset+1 {
		if err := s.resync(ctx, i); err != nil {
			return err
		}
	}
	if m.Epoch != c.pos.Epoch || m.Offset <= c.pos.Offset {
		return nil
	}
	c.pos.Offset = m.Offset
	s.sink.event(pubsub.EventPub, s.id(), m.JSON)
	return nil
}

// disconnectData encodes a disconnect reason.
func disconnectData(d *pubsub.Disconnect) []byte {
	b, _ := json.Marshal(d)
	return b
}

// parseTimeout reads a poll timeout in seconds within [1, max].
func parseTimeout(s string, def, max int) (int, bool) {
	if s == "" {
		return def, true
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, false
	}
	if v > max {
		v = max
	}
	return v, true
}
