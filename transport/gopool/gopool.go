// Package gopool runs short tasks on goroutines that are kept, a few at a
// time, for the next task instead of exiting. A goroutine started for
// every task begins on the smallest stack and grows it by copying on every
// task that calls deep enough; a kept goroutine keeps the stack it grew,
// and handing a task to it costs no goroutine creation either.
package gopool

import (
	"sync"
	"sync/atomic"
)

// Pool runs tasks of type T with one function. Tasks never wait for a
// goroutine: one is started when none is idle. At most maxIdle goroutines
// wait for the next task; the others exit when their task is done. The
// zero Pool is not usable: call New.
type Pool[T any] struct {
	run     func(T)
	tasks   chan T
	quit    chan struct{}
	stop    sync.Once
	maxIdle int32
	idle    atomic.Int32
}

// New returns a pool that runs each task with run and keeps at most
// maxIdle goroutines waiting (at least one).
func New[T any](maxIdle int, run func(T)) *Pool[T] {
	return &Pool[T]{run: run, tasks: make(chan T), quit: make(chan struct{}), maxIdle: int32(max(maxIdle, 1))}
}

// Go runs run(t) on an idle goroutine of the pool, or on a new one when
// none is idle. It never blocks.
func (p *Pool[T]) Go(t T) {
	select {
	case p.tasks <- t:
	default:
		go p.work(t)
	}
}

// Stop ends the waiting goroutines; tasks running finish first. A task
// given after Stop still runs, on a goroutine that then exits.
func (p *Pool[T]) Stop() { p.stop.Do(func() { close(p.quit) }) }

// work runs t, then waits for the next task while the pool has room for
// one more idle goroutine, until Stop.
func (p *Pool[T]) work(t T) {
	for {
		p.run(t)
		if p.idle.Add(1) > p.maxIdle {
			p.idle.Add(-1)
			return
		}
		select {
		case t = <-p.tasks:
			p.idle.Add(-1)
		case <-p.quit:
			p.idle.Add(-1)
			return
		}
	}
}
