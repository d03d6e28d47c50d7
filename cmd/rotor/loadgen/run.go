package loadgen

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// run is the state of one Run.
type run struct {
	cfg    *Config
	host   string
	shards []shard
	subs   []*subscriber
	pub    *publisher
}

// Run executes one benchmark and returns its report. It ends by itself
// when the duration or the message cap is reached (or ctx ends), after
// closing every connection and waiting for its goroutines.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("bench config: %w", err)
	}
	u, _ := url.Parse(cfg.URL)
	r := &run{cfg: &cfg, host: u.Host}
	if u.Port() == "" {
		r.host = u.Host + ":80"
	}
	r.shards = make([]shard, max(4, runtime.GOMAXPROCS(0)*4))
	channels, err := r.channelNames()
	if err != nil {
		return nil, err
	}
	if err := r.makeSubscribers(channels); err != nil {
		return nil, err
	}
	if r.pub, err = newPublisher(&cfg, channels); err != nil {
		return nil, err
	}
	defer r.pub.close()
	return r.execute(ctx)
}

// channelNames are fresh for each run, so that runs against the same
// server never share history or offsets.
func (r *run) channelNames() ([]string, error) {
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("random channel prefix: %w", err)
	}
	prefix := "bench-" + hex.EncodeToString(b) + "-"
	if r.cfg.Namespace != "" {
		prefix = r.cfg.Namespace + ":" + prefix
	}
	out := make([]string, r.cfg.Channels)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out, nil
}

func (r *run) makeSubscribers(channels []string) error {
	exp := time.Now().Add(r.cfg.Duration + r.cfg.ConnectTimeout + r.cfg.Drain + time.Hour)
	r.subs = make([]*subscriber, r.cfg.Subscribers)
	for i := range r.subs {
		s := &subscriber{r: r, idx: i, channel: channels[i%len(channels)], stats: &r.shards[i%len(r.shards)]}
		if n := len(r.cfg.SourceIPs); n > 0 {
			s.src = r.cfg.SourceIPs[i%n]
		}
		s.token = r.cfg.Token
		if s.token == "" {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
				"sub": "bench-" + strconv.Itoa(i), "exp": exp.Unix(),
			}).SignedString([]byte(r.cfg.Secret))
			if err != nil {
				return fmt.Errorf("mint token: %w", err)
			}
			s.token = tok
		}
		r.subs[i] = s
	}
	return nil
}

// progress is what the progress line shows.
type progress struct {
	phase     atomic.Value // string
	connected atomic.Int64
	failed    atomic.Int64
}

func (r *run) execute(parent context.Context) (*Report, error) {
	cfg := r.cfg
	rep := &Report{
		Transport: cfg.Transport, Subscribers: cfg.Subscribers, Channels: cfg.Channels,
		Rate: cfg.Rate, Inflight: cfg.Inflight, PayloadBytes: cfg.Payload, Idle: cfg.Idle,
	}
	if cfg.Rate == 0 && !cfg.Idle {
		rep.Mode = "closed loop"
	} else if !cfg.Idle {
		rep.Mode = "fixed rate"
	} else {
		rep.Mode = "idle"
	}
	var server *ServerStats
	var before procSample
	if cfg.PID > 0 {
		s, err := readProc(cfg.PID)
		if err != nil {
			return nil, fmt.Errorf("server process: %w", err)
		}
		before = s
		server = &ServerStats{PID: cfg.PID, RSSBeforeKB: s.rssKB}
		rep.Server = server
	}
	selfBefore, _ := readProc(0)
	runStart := time.Now()

	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var pr progress
	pr.phase.Store("connect")
	progDone := r.startProgress(ctx, &pr)

	// Connect.
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.ConnectConcurrency)
	var errMu sync.Mutex
	var connErr error
	var lastConnect atomic.Int64
	connStart := time.Now()
	all := make(chan struct{})
	var pending atomic.Int64
	pending.Store(int64(len(r.subs)))
	for i, s := range r.subs {
		if cfg.ConnectRate > 0 {
			at := connStart.Add(time.Duration(float64(i) / cfg.ConnectRate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		var once sync.Once
		ready := func(err error) {
			once.Do(func() {
				<-sem
				if err != nil {
					pr.failed.Add(1)
					errMu.Lock()
					if connErr == nil {
						connErr = fmt.Errorf("subscriber %d: %w", s.idx, err)
					}
					errMu.Unlock()
				} else {
					pr.connected.Add(1)
					lastConnect.Store(time.Now().UnixNano())
				}
				if pending.Add(-1) == 0 {
					close(all)
				}
			})
		}
		wg.Go(func() {
			if cfg.Transport == TransportPoll {
				s.runPoll(ctx, ready)
			} else {
				s.runSSE(ctx, ready)
			}
			ready(errors.New("ended before its first event"))
		})
	}
	timeout := time.NewTimer(cfg.ConnectTimeout)
	defer timeout.Stop()
	var fatal error
	select {
	case <-all:
	case <-timeout.C:
		fatal = fmt.Errorf("connect: %d of %d subscribers connected within %v", pr.connected.Load(), len(r.subs), cfg.ConnectTimeout)
	case <-ctx.Done():
		fatal = ctx.Err()
	}
	if fatal == nil && connErr != nil {
		errMu.Lock()
		fatal = fmt.Errorf("connect: %d subscribers failed, first: %w", pr.failed.Load(), connErr)
		errMu.Unlock()
	}
	// Who bounds the connect rate: the server's and our own CPU over it.
	if self, err := readProc(0); err == nil {
		rep.Connect.GeneratorCPUSeconds = self.cpuSeconds - selfBefore.cpuSeconds
	}
	if server != nil {
		if s, err := readProc(cfg.PID); err == nil {
			server.ConnectCPUSeconds = s.cpuSeconds - before.cpuSeconds
		}
	}
	rep.Connect.Connected = int(pr.connected.Load())
	rep.Connect.Failed = int(pr.failed.Load())
	if last := lastConnect.Load(); last > 0 {
		rep.Connect.Seconds = time.Duration(last - connStart.UnixNano()).Seconds()
		if rep.Connect.Seconds > 0 {
			rep.Connect.PerSecond = float64(rep.Connect.Connected) / rep.Connect.Seconds
		}
	}

	if fatal == nil {
		fatal = r.measure(ctx, rep, server, before, &pr)
	}

	cancel()
	wg.Wait()
	<-progDone
	r.finish(rep)
	if self, err := readProc(0); err == nil {
		rep.Generator.CPUSeconds = self.cpuSeconds - selfBefore.cpuSeconds
		rep.Generator.RSSKB = self.rssKB
	}
	rep.WallSeconds = time.Since(runStart).Seconds()
	if fatal != nil {
		return rep, fatal
	}
	return rep, nil
}

// measure runs the phase after connecting: idle holding, or publishing
// and draining.
func (r *run) measure(ctx context.Context, rep *Report, server *ServerStats, before procSample, pr *progress) error {
	cfg := r.cfg
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		return ctx.Err()
	}
	var cpu0 procSample
	if server != nil {
		s, err := readProc(cfg.PID)
		if err != nil {
			return fmt.Errorf("server process: %w", err)
		}
		server.RSSConnectedKB = s.rssKB
		if n := rep.Connect.Connected; n > 0 && s.rssKB > before.rssKB {
			server.RSSPerConnKB = float64(s.rssKB-before.rssKB) / float64(n)
		}
		cpu0 = s
	}
	phaseStart := time.Now()
	self0, _ := readProc(0)
	if cfg.Idle {
		pr.phase.Store("idle")
		select {
		case <-time.After(cfg.Duration):
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		pr.phase.Store("publish")
		pctx, pcancel := context.WithTimeout(ctx, cfg.Duration)
		r.pub.run(pctx)
		pcancel()
		rep.PublishSeconds = time.Since(phaseStart).Seconds()
		pr.phase.Store("drain")
		r.drain(ctx)
	}
	phase := time.Since(phaseStart).Seconds()
	rep.MeasureSeconds = phase
	if self, err := readProc(0); err == nil {
		rep.Generator.PhaseCPUSeconds = self.cpuSeconds - self0.cpuSeconds
		rep.Generator.PhaseCPUPercent = 100 * rep.Generator.PhaseCPUSeconds / phase
	}
	if server != nil {
		s, err := readProc(cfg.PID)
		if err != nil {
			return fmt.Errorf("server process: %w", err)
		}
		server.RSSEndKB = s.rssKB
		server.CPUSeconds = s.cpuSeconds - cpu0.cpuSeconds
		server.CPUPercent = 100 * server.CPUSeconds / phase
	}
	return nil
}

// drain waits until every subscriber received up to its channel's last
// offset, or cfg.Drain passed.
func (r *run) drain(ctx context.Context) {
	deadline := time.Now().Add(r.cfg.Drain)
	chIndex := make(map[string]int, len(r.pub.channels))
	for i, c := range r.pub.channels {
		chIndex[c] = i
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		behind := false
		for _, s := range r.subs {
			if s.trk.received() < r.pub.final[chIndex[s.channel]].Load() {
				behind = true
				break
			}
		}
		if !behind {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// finish gathers the counters once every subscriber goroutine ended.
func (r *run) finish(rep *Report) {
	chIndex := make(map[string]int, len(r.pub.channels))
	for i, c := range r.pub.channels {
		chIndex[c] = i
	}
	var snap snapshot
	for i := range r.shards {
		rep.Deliveries += r.shards[i].deliveries.Load()
		snap.add(&r.shards[i].hist)
	}
	rep.Published = r.pub.done.Load()
	rep.PublishErrors = r.pub.errors.Load()
	rep.PublishBehind = r.pub.behind.Load()
	if r.pub.firstErr != nil {
		rep.FirstPublishError = r.pub.firstErr.Error()
	}
	for _, s := range r.subs {
		if !s.connected {
			continue
		}
		s.trk.finish(r.pub.final[chIndex[s.channel]].Load())
		rep.Lost += s.trk.lost
		rep.Duplicates += s.trk.dup
		if s.trk.lost > 0 {
			rep.SubscribersWithLoss++
		}
		if s.trk.dup > 0 {
			rep.SubscribersWithDuplicates++
		}
		rep.Reconnects += s.reconnects
		rep.Disconnects += s.disconnects
		rep.Resyncs += s.resyncs
		if s.err != nil && rep.FirstSubscriberError == "" {
			rep.FirstSubscriberError = s.err.Error()
		}
	}
	if rep.MeasureSeconds > 0 {
		rep.DeliveriesPerSecond = float64(rep.Deliveries) / rep.MeasureSeconds
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	rep.Latency = Latency{
		Count: snap.total,
		P50:   ms(snap.quantile(0.50)), P99: ms(snap.quantile(0.99)),
		P999: ms(snap.quantile(0.999)), Max: ms(snap.max),
	}
	if s := rep.Server; s != nil && rep.Deliveries > 0 {
		s.CPUPerMillion = s.CPUSeconds / float64(rep.Deliveries) * 1e6
	}
}

// startProgress prints a line every second until ctx ends.
func (r *run) startProgress(ctx context.Context, pr *progress) <-chan struct{} {
	done := make(chan struct{})
	if r.cfg.Progress == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start := time.Now()
		var lastDeliv, lastPub uint64
		var lastCPU float64
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			var deliv uint64
			for i := range r.shards {
				deliv += r.shards[i].deliveries.Load()
			}
			pub := r.pub.done.Load()
			line := fmt.Sprintf("%5.0fs %-7s conn %d/%d fail %d  pub %d (%d/s)  deliv %d (%d/s)",
				time.Since(start).Seconds(), pr.phase.Load(), pr.connected.Load(), len(r.subs), pr.failed.Load(),
				pub, pub-lastPub, deliv, deliv-lastDeliv)
			if r.cfg.PID > 0 {
				if s, err := readProc(r.cfg.PID); err == nil {
					if lastCPU > 0 {
						line += fmt.Sprintf("  server cpu %.0f%%", 100*(s.cpuSeconds-lastCPU))
					}
					line += fmt.Sprintf(" rss %d MB", s.rssKB/1024)
					lastCPU = s.cpuSeconds
				}
			}
			lastDeliv, lastPub = deliv, pub
			_, _ = fmt.Fprintln(r.cfg.Progress, line)
		}
	}()
	return done
}
