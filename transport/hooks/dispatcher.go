package hooks

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Dispatcher defaults, used when the matching option is zero.
const (
	DefaultRetries       = 5
	DefaultBatchSize     = 100
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultQueueSize     = 10000
)

// DispatcherOptions configure a Dispatcher. Every zero value means the
// default named beside it.
type DispatcherOptions struct {
	// Resolve returns a project's events_hook_url and secret at delivery
	// time, so settings changes apply to queued events; ok false or an
	// empty url drops the project's batch. Required.
	Resolve func(ctx context.Context, project string) (url string, secret []byte, ok bool)
	// Client makes the calls; nil means NewHTTPClient(0).
	Client *http.Client
	// Retries is how many times a failed batch is sent again before it is
	// dropped; 0 means DefaultRetries, negative means none.
	Retries int
	// BatchSize is the most events in one POST; 0 means DefaultBatchSize.
	BatchSize int
	// FlushInterval is how long the first event of a batch waits for
	// others; 0 means DefaultFlushInterval.
	FlushInterval time.Duration
	// QueueSize is the most events waiting per project; when full the
	// oldest is dropped. 0 means DefaultQueueSize.
	QueueSize int
	// Backoff is the wait before retry number attempt (1, 2, ...); nil
	// means full jitter: random in [0, min(10s, 100ms·2^(attempt-1))).
	Backoff func(attempt int) time.Duration
	// Logger gets drops and failures; nil means slog.Default().
	Logger *slog.Logger
}

// Dispatcher is the EventSink that POSTs batches of {"events": [...]} to
// each project's events_hook_url. Events wait in a bounded queue per
// project; one goroutine per project that has emitted delivers them in
// order, so a project with a dead hook never delays another.
type Dispatcher struct {
	opts    DispatcherOptions
	log     *slog.Logger
	dropped atomic.Uint64
	// wake tells Run that a project may need a worker.
	wake chan struct{}

	mu     sync.Mutex
	queues map[string]*queue
	// lastDropLog rate-limits the queue-full warning.
	lastDropLog time.Time
}

var _ EventSink = (*Dispatcher)(nil)

// queue holds one project's waiting events; guarded by Dispatcher.mu.
type queue struct {
	events []Event
	// started is set once Run has a worker for this queue.
	started bool
	// ready gets a token when events arrive; full when a batch is ready.
	ready, full chan struct{}
}

// NewDispatcher returns a Dispatcher; call Run to deliver.
func NewDispatcher(opts DispatcherOptions) *Dispatcher {
	switch {
	case opts.Retries == 0:
		opts.Retries = DefaultRetries
	case opts.Retries < 0:
		opts.Retries = 0
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Backoff == nil {
		opts.Backoff = FullJitter(100*time.Millisecond, 10*time.Second)
	}
	opts.Client = clientOrDefault(opts.Client)
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Dispatcher{
		opts:   opts,
		log:    log.With("component", "events_hook"),
		wake:   make(chan struct{}, 1),
		queues: make(map[string]*queue),
	}
}

// FullJitter returns the backoff "full jitter" (AWS architecture blog,
// 2015): a random wait in [0, min(max, base·2^(attempt-1))).
func FullJitter(base, maxWait time.Duration) func(attempt int) time.Duration {
	return func(attempt int) time.Duration {
		d := maxWait
		if attempt < 1 {
			attempt = 1
		}
		if attempt < 40 {
			d = min(maxWait, base<<(attempt-1))
		}
		if d <= 0 {
			return 0
		}
		return rand.N(d)
	}
}

// Dropped is how many events were dropped: queue overflows and batches
// given up after their retries.
func (d *Dispatcher) Dropped() uint64 { return d.dropped.Load() }

// Emit queues ev for project and returns at once. When the project's queue
// is full the oldest event is dropped.
func (d *Dispatcher) Emit(project string, ev Event) {
	d.mu.Lock()
	q := d.queues[project]
	if q == nil {
		q = &queue{ready: make(chan struct{}, 1), full: make(chan struct{}, 1)}
		d.queues[project] = q
	}
	overflow := len(q.events) >= d.opts.QueueSize
	if overflow {
		q.events[0] = Event{} // release its payload now
		q.events = q.events[1:]
	}
	q.events = append(q.events, ev)
	n := len(q.events)
	start := !q.started
	logDrop := overflow && time.Since(d.lastDropLog) >= time.Second
	if logDrop {
		d.lastDropLog = time.Now()
	}
	d.mu.Unlock()

	if overflow {
		total := d.dropped.Add(1)
		if logDrop {
			d.log.Warn("events queue full, dropping the oldest", "project", project, "queue_size", d.opts.QueueSize, "dropped_total", total)
		}
	}
	signal(q.ready)
	if n >= d.opts.BatchSize {
		signal(q.full)
	}
	if start {
		signal(d.wake)
	}
}

// signal sends a token on c unless one is already waiting.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx is done, then waits for its goroutines
// and returns. Events still queued then are not delivered. Call it once.
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		d.mu.Lock()
		for project, q := range d.queues {
			if !q.started {
				q.started = true
				wg.Go(func() { d.work(ctx, project, q) })
			}
		}
		d.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		}
	}
}

// work delivers one project's events in order until ctx is done.
func (d *Dispatcher) work(ctx context.Context, project string, q *queue) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-q.ready:
		}
		// Give the batch time to fill, unless it already has.
		timer.Reset(d.opts.FlushInterval)
		select {
		case <-ctx.Done():
			return
		case <-q.full:
		case <-timer.C:
		}
		for {
			batch := d.take(q)
			if len(batch) == 0 {
				break
			}
			d.deliver(ctx, project, batch)
			if ctx.Err() != nil {
				return
			}
		}
	}
}

// take removes up to BatchSize events from the front of q.
func (d *Dispatcher) take(q *queue) []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := min(len(q.events), d.opts.BatchSize)
	batch := make([]Event, n)
	copy(batch, q.events)
	clear(q.events[:n])
	q.events = q.events[n:]
	if len(q.events) < d.opts.BatchSize {
		// Drain a stale "full" so the next batch waits its interval.
		select {
		case <-q.full:
		default:
		}
	}
	return batch
}

type eventsCall struct {
	Events []Event `json:"events"`
}

// deliver sends one batch, retrying with backoff, and drops it in the end.
func (d *Dispatcher) deliver(ctx context.Context, project string, batch []Event) {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(d.opts.Backoff(attempt))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		// Resolved on every attempt, so a fixed URL is picked up.
		url, secret, ok := d.opts.Resolve(ctx, project)
		if !ok || url == "" {
			d.log.Debug("no events hook, batch dropped", "project", project, "events", len(batch))
			return
		}
		_, err := postJSON(ctx, d.opts.Client, url, secret, eventsCall{Events: batch})
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		if attempt >= d.opts.Retries {
			d.dropped.Add(uint64(len(batch)))
			d.log.Warn("events hook failed, batch dropped", "project", project, "events", len(batch), "attempts", attempt+1, "err", err)
			return
		}
		d.log.Info("events hook failed, will retry", "project", project, "attempt", attempt+1, "err", err)
	}
}
