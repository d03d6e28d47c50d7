package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Sink receives a stream's events in wire form: SSE writes them as
// event-stream frames, a long poll gathers them into one JSON answer. The
// stream calls it from one goroutine at a time, never concurrently.
type Sink interface {
	// Event appends one event; id is nil for events that carry none. The
	// sink must copy what it keeps: id and data may be reused.
	Event(kind pubsub.EventKind, id []byte, data []byte)
}

// streamChan is one channel of a stream and where the stream stands in it.
type streamChan struct {
	ref  Ref
	pos  pubsub.Position
	info *pubsub.ClientInfo
	// gone is set once the server unsubscribed the stream from it.
	gone bool
}

// Stream is one SSE stream or long poll, whichever transport carries it:
// it owns the stream's life from OpenStream (validate, reserve, register
// in the hub, catch up from history, enter presence) through live
// delivery to Close (leave presence, give the reservation back, report
// `disconnect` to the events hook). Between them it turns queued hub
// messages and history into events for its Sink with no loss, no
// duplicate and no reordering (docs/protocol.md, Delivery guarantee).
type Stream struct {
	// What the stream needs of the node, and nothing more.
	engine   pubsub.Engine
	log      *slog.Logger
	presence *presenceTracker
	report   func(*structure.Project, Event)
	streams  *streamCount

	st    *pubsub.Stream
	chans []streamChan
	sink  Sink

	project *structure.Project
	expires time.Time
	release func()
	once    sync.Once

	// lost says the client's resume id was unusable: fresh positions are
	// reported with recovered:false.
	lost bool

	// pubs counts publications given to the sink since Delivered.
	pubs       int
	deliveries prometheus.Counter

	positions []pubsub.Position
	idBuf     []byte
	queue     []pubsub.Queued
	histBuf   []byte
}

// emit gives one event to the sink.
func (s *Stream) emit(kind pubsub.EventKind, id, data []byte) {
	if kind == pubsub.EventPub {
		s.pubs++
	}
	s.sink.Event(kind, id, data)
}

// Delivered counts the publications given to the sink since the last
// call as delivered to the client: the transport calls it once it has
// written them.
func (s *Stream) Delivered() {
	if s.pubs > 0 {
		s.deliveries.Add(float64(s.pubs))
		s.pubs = 0
	}
}

// Done is closed when the server ends the stream; Reason says why.
func (s *Stream) Done() <-chan struct{} { return s.st.Done() }

// Ready is signalled when there is something to Drain.
func (s *Stream) Ready() <-chan struct{} { return s.st.Ready() }

// Pending reports whether Drain would find something, or the stream has
// ended.
func (s *Stream) Pending() bool { return s.st.Pending() }

// SetNotify sets a function the hub calls, without blocking, whenever
// there is something to Drain.
func (s *Stream) SetNotify(f func()) { s.st.SetNotify(f) }

// End ends the stream with reason.
func (s *Stream) End(reason *pubsub.Disconnect) { s.st.End(reason) }

// Expires returns when the stream's session ends (zero: never).
func (s *Stream) Expires() time.Time { return s.expires }

// engineDownReason ends a stream whose resync could not read history.
var engineDownReason = pubsub.DisconnectEngineDownReason

// Disconnected gives the sink the `disconnect` event of the reason the
// server ended the stream.
func (s *Stream) Disconnected() {
	s.emit(pubsub.EventDisconnect, nil, disconnectData(s.st.Reason()))
}

// Fill turns what is queued into events in the sink. It reports false when
// the stream is over; the sink then ends with the `disconnect` event (the
// server's reason, or "engine unavailable" when history could not be
// read to fill a gap).
func (s *Stream) Fill(ctx context.Context) bool {
	select {
	case <-s.st.Done():
		s.Disconnected()
		return false
	default:
	}
	if err := s.Drain(ctx); err != nil {
		s.log.Warn("stream resync failed", "err", err)
		s.emit(pubsub.EventDisconnect, nil, disconnectData(engineDownReason))
		return false
	}
	return true
}

// Close undoes what OpenStream did: the client leaves the stream's
// channels after the grace period, the hub forgets the stream, its
// reservation is given back and the events hook hears `disconnect`. It
// runs once, whoever ends the stream.
func (s *Stream) Close() {
	s.once.Do(func() {
		s.presence.exitAll(s.chans, s.st.Client())
		s.st.Close()
		s.release()
		ev := Event{Type: EventDisconnect, Client: s.st.Client(), User: s.st.User()}
		if r := s.st.Reason(); r != nil && r != pubsub.DisconnectNormalReason {
			ev.Data = disconnectData(r)
		}
		s.report(s.project, ev)
		s.streams.exit()
	})
}

// Reachable reads every channel's position, as opening a stream does,
// and fails as that would when the engine cannot be reached: a long poll
// that resumes a kept stream is then refused as a new one would be.
func (s *Stream) Reachable(ctx context.Context) error {
	for i := range s.chans {
		if c := &s.chans[i]; !c.gone {
			if _, err := s.engine.History(ctx, c.ref.key, pubsub.HistoryRequest{Limit: 0}); err != nil {
				return wrapf(err, "position of %q", c.ref.ch.Full)
			}
		}
	}
	return nil
}

// unsubCode is the `unsub` code when the server ends a subscription.
const unsubCode = 2000

// ID encodes every channel's current position: the stream id
// (docs/protocol.md, Stream id). It is valid until the stream's next
// event.
func (s *Stream) ID() []byte {
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
// subscription, nothing missed). When history cannot cover the gap in the
// same epoch, recovered is false and start is the channel's current top.
// When the epoch changed, recovered is false too (the old epoch's tail is
// gone) but start is the new epoch's position 0 and pubs are whatever
// history holds of the new epoch: what was published in it before this
// node noticed is delivered, not skipped.
func (s *Stream) catchUp(ctx context.Context, c *streamChan, since *pubsub.Position) (recovery, error) {
	if since == nil {
		res, err := s.engine.History(ctx, c.ref.key, pubsub.HistoryRequest{Limit: 0})
		if err != nil {
			return recovery{}, wrapf(err, "position of %q", c.ref.ch.Full)
		}
		return recovery{start: res.Position, recovered: true}, nil
	}
	req := pubsub.HistoryRequest{Since: since, Limit: -1}
	if !c.ref.historyOn() {
		req.Limit = 0
	}
	res, err := s.engine.History(ctx, c.ref.key, req)
	if err != nil {
		return recovery{}, wrapf(err, "recover %q", c.ref.ch.Full)
	}
	if since.Epoch != res.Position.Epoch && c.ref.historyOn() {
		return s.epochStart(ctx, c, res.Position.Epoch)
	}
	if !covers(*since, res) {
		return recovery{start: res.Position, recovered: false}, nil
	}
	return recovery{pubs: res.Publications, start: *since, recovered: true}, nil
}

// epochStartTries bounds how often epochStart rereads when the epoch
// changes again under it.
const epochStartTries = 3

// epochStart reads what history holds of channel c's epoch from its
// start. Should the epoch change again between reads, it follows it.
func (s *Stream) epochStart(ctx context.Context, c *streamChan, epoch string) (recovery, error) {
	for range epochStartTries {
		from := pubsub.Position{Epoch: epoch}
		res, err := s.engine.History(ctx, c.ref.key, pubsub.HistoryRequest{Since: &from, Limit: -1})
		if err != nil {
			return recovery{}, wrapf(err, "recover %q", c.ref.ch.Full)
		}
		if res.Position.Epoch == epoch {
			return recovery{pubs: res.Publications, start: from, recovered: false}, nil
		}
		epoch = res.Position.Epoch
	}
	return recovery{}, fmt.Errorf("recover %q: epoch keeps changing", c.ref.ch.Full)
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

func (s *Stream) emitSub(c *streamChan, recovered bool) {
	b, _ := json.Marshal(subEvent{Channel: c.ref.ch.Full, Epoch: c.pos.Epoch, Offset: c.pos.Offset, Recovered: recovered})
	s.emit(pubsub.EventSub, s.ID(), b)
}

// emitHistoryPub writes a publication read from history, in the same
// bytes as the live one (pubsub.AppendPublication).
func (s *Stream) emitHistoryPub(c *streamChan, p *pubsub.Publication) {
	if p.Offset <= c.pos.Offset {
		return
	}
	c.pos.Offset = p.Offset
	b, err := pubsub.AppendPublication(s.histBuf[:0], c.ref.ch.Full, p)
	if err != nil {
		s.log.Error("encode publication", "key", c.ref.key, "err", err)
		return
	}
	s.histBuf = b
	s.emit(pubsub.EventPub, s.ID(), b)
}

// start sends the opening events. With since nil every channel starts at
// its current position; otherwise each resumes from its position in since
// (same length as chans). subAlways says whether `sub` events are sent for
// channels that resumed with nothing lost (SSE: yes; a poll: no, the client
// had them already).
func (s *Stream) start(ctx context.Context, since []pubsub.Position, subAlways bool) error {
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
func (s *Stream) resync(ctx context.Context, i int) error {
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
	}
	for _, p := range r.pubs {
		s.emitHistoryPub(c, p)
	}
	return nil
}

// Drain takes what the hub queued and turns it into events. An error
// means history could not be read to fill a gap.
func (s *Stream) Drain(ctx context.Context) error {
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
			s.emit(m.Kind, nil, m.JSON)
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
		s.presence.exit(c.ref, s.st.Client(), true)
		b, _ := json.Marshal(map[string]any{"channel": c.ref.ch.Full, "code": unsubCode, "reason": "unsubscribed by server"})
		s.emit(pubsub.EventUnsub, nil, b)
	}
	return nil
}

// live handles one publication from the hub: drop duplicates, fill gaps
// from history, notice a new epoch.
func (s *Stream) live(ctx context.Context, i int, m *pubsub.Message) error {
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
	s.emit(pubsub.EventPub, s.ID(), m.JSON)
	return nil
}

// disconnectData encodes a disconnect reason.
func disconnectData(d *pubsub.Disconnect) []byte {
	b, _ := json.Marshal(d)
	return b
}

// wrapf adds context to an error for logs.
func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
