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
	DefaultQueueBytes    = 16 << 20
)

// Reasons an event is dropped, as passed to Observer.Dropped.
const (
	// DropQueueFull: the project's queue had no room (its hook is down or
	// slow); the oldest events go first.
	DropQueueFull = "queue_full"
	// DropRetriesExhausted: the hook failed on every attempt.
	DropRetriesExhausted = "retries_exhausted"
	// DropNoHook: the project had no events_hook_url any more when its
	// batch was sent.
	DropNoHook = "no_hook"
)

// Observer is told what the dispatcher does, for metrics. Its methods are
// called from Emit and from the delivery goroutines, so they must be safe
// for concurrent use and must not block.
type Observer interface {
	// Dropped counts events given up for reason (one of the Drop*
	// constants).
	Dropped(reason string, events int)
	// Called records one POST to a hook and its outcome.
	Called(took time.Duration, err error)
	// Retrying is told each time a failed batch is going to be tried again.
	Retrying()
}

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
	// QueueBytes bounds, per project, the size of the events waiting or
	// in delivery (see eventSize); when a new event does not fit, the
	// oldest waiting are dropped. It bounds memory: the count of events
	// would not, since one event may carry up to client.max_body of data.
	// 0 means DefaultQueueBytes.
	QueueBytes int64
	// Backoff is the wait before retry number attempt (1, 2, ...); nil
	// means full jitter: random in [0, min(10s, 100ms·2^(attempt-1))).
	Backoff func(attempt int) time.Duration
	// Observer gets drops and call durations; nil means none.
	Observer Observer
	// Logger gets drops and failures; nil means slog.Default().
	Logger *slog.Logger
}

// Dispatcher is the EventSink that POSTs batches of {"events": [...]} to
// each project's events_hook_url. Events wait in a queue per project,
// bounded in bytes; one goroutine per project that has emitted delivers
// them in order, so a project with a dead hook never delays another.
type Dispatcher struct {
	opts    DispatcherOptions
	log     *slog.Logger
	dropped atomic.Uint64
	// queued is the sum of every queue's bytes, for QueuedBytes.
	queued atomic.Int64
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
	// bytes is the size of events plus that of the batch in delivery.
	bytes int64
	// started is set once Run has a worker for this queue.
	started bool
	// ready gets a token when events arrive; full when a batch is ready.
	ready, full chan struct{}
}

// eventOverhead approximates what an event costs beyond its variable
// fields: the Event struct and slice slot in memory, the JSON keys and
// punctuation on the wire.
const eventOverhead = 128

// eventSize is what an event counts against QueueBytes.
func eventSize(ev *Event) int64 {
	return int64(eventOverhead + len(ev.Type) + len(ev.Channel) + len(ev.Client) + len(ev.User) + len(ev.Info) + len(ev.Data))
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
	if opts.QueueBytes <= 0 {
		opts.QueueBytes = DefaultQueueBytes
	}
	if opts.Backoff == nil {
		opts.Backoff = FullJitter(100*time.Millisecond, 10*time.Second)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
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

type nopObserver struct{}

func (nopObserver) Dropped(string, int)         {}
func (nopObserver) Called(time.Duration, error) {}
func (nopObserver) Retrying()                   {}

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

// Dropped is how many events were dropped, for every reason.
func (d *Dispatcher) Dropped() uint64 { return d.dropped.Load() }

// QueuedBytes is the size of the events waiting or in delivery, summed
// over projects.
func (d *Dispatcher) QueuedBytes() int64 { return d.queued.Load() }

// QueuedEvents counts the events waiting for delivery, summed over
// projects (the batches in delivery not included).
func (d *Dispatcher) QueuedEvents() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, q := range d.queues {
		n += len(q.events)
	}
	return n
}

// drop counts events given up for reason.
func (d *Dispatcher) drop(reason string, events int) uint64 {
	d.opts.Observer.Dropped(reason, events)
	return d.dropped.Add(uint64(events))
}

// Emit queues ev for project and returns at once. When the project's queue
// has no room for it, the oldest waiting events are dropped; an event
// larger than the whole bound, or one that still does not fit beside the
// batch in delivery, is dropped itself.
func (d *Dispatcher) Emit(project string, ev Event) {
	size := eventSize(&ev)
	d.mu.Lock()
	q := d.queues[project]
	if q == nil {
		q = &queue{ready: make(chan struct{}, 1), full: make(chan struct{}, 1)}
		d.queues[project] = q
	}
	overflow := 0
	for q.bytes+size > d.opts.QueueBytes && len(q.events) > 0 {
		old := eventSize(&q.events[0])
		q.events[0] = Event{} // release its payload now
		q.events = q.events[1:]
		q.bytes -= old
		d.queued.Add(-old)
		overflow++
	}
	fits := q.bytes+size <= d.opts.QueueBytes
	if fits {
		q.events = append(q.events, ev)
		q.bytes += size
		d.queued.Add(size)
	} else {
		overflow++
	}
	n := len(q.events)
	start := !q.started
	logDrop := overflow > 0 && time.Since(d.lastDropLog) >= time.Second
	if logDrop {
		d.lastDropLog = time.Now()
	}
	d.mu.Unlock()

	if overflow > 0 {
		total := d.drop(DropQueueFull, overflow)
		if logDrop {
			d.log.Warn("events queue full, dropping the oldest", "project", project, "queue_bytes", d.opts.QueueBytes, "dropped_total", total)
		}
	}
	if !fits {
		return
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
			d.delivered(q, batch)
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

// delivered gives back the room of a batch that is no longer in delivery.
func (d *Dispatcher) delivered(q *queue, batch []Event) {
	var size int64
	for i := range batch {
		size += eventSize(&batch[i])
	}
	d.mu.Lock()
	q.bytes -= size
	d.mu.Unlock()
	d.queued.Add(-size)
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
			d.drop(DropNoHook, len(batch))
			d.log.Debug("no events hook, batch dropped", "project", project, "events", len(batch))
			return
		}
		start := time.Now()
		_, err := postJSON(ctx, d.opts.Client, url, secret, eventsCall{Events: batch})
		if ctx.Err() != nil {
			return // shutting down: not the hook's latency
		}
		d.opts.Observer.Called(time.Since(start), err)
		if err == nil {
			return
		}
		if attempt >= d.opts.Retries {
			d.drop(DropRetriesExhausted, len(batch))
			d.log.Warn("events hook failed, batch dropped", "project", project, "events", len(batch), "attempts", attempt+1, "err", err)
			return
		}
		d.opts.Observer.Retrying()
		d.log.Info("events hook failed, will retry", "project", project, "attempt", attempt+1, "err", err)
	}
}
