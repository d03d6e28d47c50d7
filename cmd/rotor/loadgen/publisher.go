package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rotor-rt/rotor/transport/apiclient"
)

// publisher sends publications through the server API (docs/protocol.md, Server API) and keeps
// the last offset the server assigned in each channel, which is what every
// subscriber of that channel must reach.
type publisher struct {
	cfg      *Config
	client   *apiclient.Client
	channels []string
	final    []atomic.Uint64 // highest offset published per channel
	seq      atomic.Uint64   // publications started
	done     atomic.Uint64   // publications answered with an offset
	errors   atomic.Uint64
	behind   atomic.Uint64 // fixed-rate sends that found no free worker
	errMu    sync.Mutex
	firstErr error
	rng      atomic.Uint64
}

func newPublisher(cfg *Config, channels []string) (*publisher, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        cfg.Inflight * 2,
		MaxIdleConnsPerHost: cfg.Inflight * 2,
		IdleConnTimeout:     time.Minute,
	}
	p := &publisher{
		cfg:      cfg,
		channels: channels,
		final:    make([]atomic.Uint64, len(channels)),
	}
	p.rng.Store(uint64(time.Now().UnixNano()) | 1)
	if cfg.Idle {
		return p, nil // holds channels and offsets, never publishes
	}
	// One attempt, no retries: the bench counts failures rather than
	// hiding them, and so sends no idempotency key either.
	client, err := apiclient.New(cfg.URL, cfg.APIKey, apiclient.Options{
		HTTPClient:     &http.Client{Transport: tr},
		MaxAttempts:    1,
		AttemptTimeout: 30 * time.Second,
	})
	if err != nil {
		return nil, fmt.Errorf("publisher: %w", err)
	}
	p.client = client
	return p, nil
}

func (p *publisher) close() {
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
}

// pick chooses a channel: round robin over few channels would make
// latency periodic, so a cheap xorshift picks at random.
func (p *publisher) pick() int {
	if len(p.channels) == 1 {
		return 0
	}
	for {
		x := p.rng.Load()
		y := x
		y ^= y << 13
		y ^= y >> 7
		y ^= y << 17
		if p.rng.CompareAndSwap(x, y) {
			return int(y % uint64(len(p.channels)))
		}
	}
}

// worker holds one payload buffer.
type worker struct {
	p    *publisher
	data []byte
}

// publishOne sends one publication with the current time stamped in it.
func (w *worker) publishOne(ctx context.Context, seq uint64) {
	p := w.p
	ch := p.pick()
	w.data = appendPayload(w.data[:0], seq, time.Now().UnixNano(), p.cfg.Payload)
	pos, err := p.client.Publish(ctx, apiclient.PublishRequest{Channel: p.channels[ch], Data: json.RawMessage(w.data)})
	if err != nil {
		if ctx.Err() == nil {
			p.fail(err)
		}
		return
	}
	for {
		cur := p.final[ch].Load()
		if pos.Offset <= cur || p.final[ch].CompareAndSwap(cur, pos.Offset) {
			break
		}
	}
	p.done.Add(1)
}

func (p *publisher) fail(err error) {
	p.errors.Add(1)
	p.errMu.Lock()
	if p.firstErr == nil {
		p.firstErr = err
	}
	p.errMu.Unlock()
}

// next reserves the next sequence number, or reports the cap is reached.
func (p *publisher) next() (uint64, bool) {
	s := p.seq.Add(1)
	if p.cfg.Messages > 0 && s > p.cfg.Messages {
		return 0, false
	}
	return s, true
}

// run publishes until ctx ends or the cap is reached: Inflight workers in
// a closed loop, or at cfg.Rate per second paced by one dispatcher.
func (p *publisher) run(ctx context.Context) {
	var wg sync.WaitGroup
	if p.cfg.Rate == 0 {
		for range p.cfg.Inflight {
			wg.Go(func() {
				w := &worker{p: p}
				for ctx.Err() == nil {
					seq, ok := p.next()
					if !ok {
						return
					}
					w.publishOne(ctx, seq)
				}
			})
		}
		wg.Wait()
		return
	}
	jobs := make(chan uint64, p.cfg.Inflight)
	for range p.cfg.Inflight {
		wg.Go(func() {
			w := &worker{p: p}
			for seq := range jobs {
				w.publishOne(ctx, seq)
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)
	start := time.Now()
	var sent uint64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := uint64(time.Since(start).Seconds() * p.cfg.Rate)
		for ; sent < due; sent++ {
			seq, ok := p.next()
			if !ok {
				return
			}
			select {
			case jobs <- seq:
			default:
				// Every worker is busy: the server answers slower than
				// the rate asks. Wait rather than drop, and say so.
				p.behind.Add(1)
				select {
				case jobs <- seq:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}
