package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// maxReconnects bounds how often one subscriber reopens its stream after
// the server ended it (e.g. 3002 slow consumer): each reopen resumes from
// the last id, so nothing is lost while history covers the gap.
const maxReconnects = 20

// subscriber is one connection and what it received.
type subscriber struct {
	r       *run
	idx     int
	channel string
	token   string
	src     net.IP
	stats   *shard
	trk     tracker
	id      []byte // last event id, for resuming
	// Written by the subscriber's goroutine, read after it ended.
	reconnects  int
	disconnects int // disconnect events received
	resyncs     int // mid-stream sub events with recovered false
	err         error
	connected   bool
}

// target is the request path and query for this subscriber.
func (s *subscriber) target(kind string, poll bool) string {
	q := url.Values{}
	q.Set("token", s.token)
	q.Set("channel", s.channel)
	if len(s.id) > 0 {
		q.Set("since", string(s.id))
	}
	if poll {
		q.Set("timeout", strconv.Itoa(s.r.cfg.PollTimeout))
	}
	return "/connection/" + url.PathEscape(s.r.cfg.Project) + "/" + kind + "?" + q.Encode()
}

// runSSE holds an SSE stream until ctx ends, reopening it (resuming) when
// the server ends it.
func (s *subscriber) runSSE(ctx context.Context, ready func(error)) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := s.streamOnce(ctx, ready)
		if ctx.Err() != nil {
			return
		}
		if !s.connected {
			ready(err)
			return
		}
		if attempt >= maxReconnects {
			s.err = fmt.Errorf("subscriber %d: gave up after %d reconnects: %w", s.idx, attempt, err)
			return
		}
		s.reconnects++
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *subscriber) streamOnce(ctx context.Context, ready func(error)) error {
	hc, err := dialHTTP(ctx, s.r.host, s.src)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { _ = hc.close() })
	defer stop()
	defer func() { _ = hc.close() }()
	resp, err := hc.get(s.r.host, s.target("sse", false), "text/event-stream")
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	p := newSSEReader(bufio.NewReaderSize(resp.Body, 8192))
	for {
		ev, err := p.next()
		if err != nil {
			return err
		}
		s.id = append(s.id[:0], ev.ID...)
		switch string(ev.Name) {
		case "pub":
			s.onPub(ev.Data, time.Now().UnixNano())
		case "sub":
			s.onSub(ev.Data, ready)
		case "disconnect":
			s.disconnects++
			return fmt.Errorf("disconnect event: %s", ev.Data)
		}
	}
}

func (s *subscriber) onSub(data []byte, ready func(error)) {
	_, off, recovered, ok := parseSub(data)
	if !ok {
		return
	}
	if !s.connected {
		s.connected = true
		s.trk.base(off)
		ready(nil)
		return
	}
	if !recovered {
		s.resyncs++
	}
}

func (s *subscriber) onPub(data []byte, now int64) {
	f, ok := parsePub(data)
	if !ok || string(f.channel) != s.channel {
		return
	}
	s.trk.pub(f.offset)
	s.stats.deliveries.Add(1)
	if f.ts > 0 {
		s.stats.hist.record(now - f.ts)
	}
}

// runPoll long-polls until ctx ends, on one keep-alive connection that is
// redialled when the server closes it.
func (s *subscriber) runPoll(ctx context.Context, ready func(error)) {
	var hc *httpConn
	var body bytes.Buffer
	defer func() {
		if hc != nil {
			_ = hc.close()
		}
	}()
	failures := 0
	for ctx.Err() == nil {
		if hc == nil {
			c, err := dialHTTP(ctx, s.r.host, s.src)
			if err != nil {
				if !s.connected {
					ready(err)
					return
				}
				failures++
				if failures > maxReconnects {
					s.err = err
					return
				}
				continue
			}
			hc = c
		}
		err := s.pollOnce(ctx, hc, &body, ready)
		if err == nil || errors.Is(err, errConnClosed) {
			failures = 0
			if err != nil {
				_ = hc.close()
				hc = nil
			}
			continue
		}
		_ = hc.close()
		hc = nil
		if ctx.Err() != nil {
			return
		}
		if !s.connected {
			ready(err)
			return
		}
		s.reconnects++
		failures++
		if failures > maxReconnects {
			s.err = fmt.Errorf("subscriber %d: %w", s.idx, err)
			return
		}
	}
}

// errConnClosed says the server closed a keep-alive connection after a
// complete answer: redial, nothing failed.
var errConnClosed = errors.New("connection closed by server")

var (
	pollEventKey = []byte(`{"event":"`)
	pollIDKey    = []byte(`],"id":"`)
)

func (s *subscriber) pollOnce(ctx context.Context, hc *httpConn, body *bytes.Buffer, ready func(error)) error {
	stop := context.AfterFunc(ctx, func() { _ = hc.c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	resp, err := hc.get(s.r.host, s.target("poll", true), "application/json")
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	body.Reset()
	_, err = body.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("poll: read body: %w", err)
	}
	now := time.Now().UnixNano()
	b := body.Bytes()
	i := bytes.LastIndex(b, pollIDKey)
	if i < 0 {
		return fmt.Errorf("poll: no id in answer %.200q", b)
	}
	id := b[i+len(pollIDKey):]
	j := bytes.IndexByte(id, '"')
	if j < 0 {
		return errors.New("poll: unterminated id")
	}
	events := b[:i]
	// Each event is {"event":"NAME","data":{...}}; its data runs to the
	// next event's start (our payloads never contain that key).
	for {
		k := bytes.Index(events, pollEventKey)
		if k < 0 {
			break
		}
		events = events[k+len(pollEventKey):]
		q := bytes.IndexByte(events, '"')
		if q < 0 {
			break
		}
		name := events[:q]
		seg := events[q:]
		if n := bytes.Index(seg, pollEventKey); n >= 0 {
			seg = seg[:n]
		}
		switch string(name) {
		case "pub":
			s.onPub(seg, now)
		case "sub":
			s.onSub(seg, ready)
		case "disconnect":
			s.disconnects++
		}
	}
	s.id = append(s.id[:0], id[:j]...)
	if resp.Close {
		return errConnClosed
	}
	return nil
}

// shard is a share of the counters that subscriber goroutines write,
// spread so that many cores do not fight over one cache line.
type shard struct {
	deliveries atomic.Uint64
	_          [56]byte
	hist       histogram
}
