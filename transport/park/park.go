// Package park keeps idle values under a key for a short while, so that a
// later request with the same key takes one up instead of building a new
// one: the long poll parks its subscription between two polls of the same
// client. It knows nothing of what it keeps beyond how to close it.
package park

import (
	"context"
	"sync"
	"time"
)

// Park holds values of type V under keys of type K, each for at most ttl.
// Its methods are safe for concurrent use.
type Park[K comparable, V any] struct {
	ttl   time.Duration
	close func(V)

	mu     sync.Mutex
	m      map[K][]parked[V]
	n      int
	closed bool
}

type parked[V any] struct {
	v  V
	at time.Time
}

// New returns a park whose values are closed with close once they have
// waited ttl, or when the park closes.
func New[K comparable, V any](ttl time.Duration, close func(V)) *Park[K, V] {
	return &Park[K, V]{ttl: ttl, close: close, m: make(map[K][]parked[V])}
}

// Put parks v under k. It reports false, and keeps nothing, once the park
// is closed: the caller still owns v then.
func (p *Park[K, V]) Put(k K, v V) bool {
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.m[k] = append(p.m[k], parked[V]{v: v, at: now})
	p.n++
	return true
}

// Take removes a value parked under k, the latest first, and gives it to
// the caller, who owns it from then on.
func (p *Park[K, V]) Take(k K) (v V, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	vs := p.m[k]
	if len(vs) == 0 {
		return v, false
	}
	last := len(vs) - 1
	v = vs[last].v
	vs[last] = parked[V]{}
	if last == 0 {
		delete(p.m, k)
	} else {
		p.m[k] = vs[:last]
	}
	p.n--
	return v, true
}

// Len returns how many values are parked.
func (p *Park[K, V]) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// Sweep closes the values parked before now minus ttl and returns how
// many it closed.
func (p *Park[K, V]) Sweep(now time.Time) int {
	cut := now.Add(-p.ttl)
	var old []V
	p.mu.Lock()
	for k, vs := range p.m {
		// Values under one key were put in time order.
		i := 0
		for i < len(vs) && !vs[i].at.After(cut) {
			old = append(old, vs[i].v)
			i++
		}
		switch {
		case i == len(vs):
			delete(p.m, k)
		case i > 0:
			n := copy(vs, vs[i:])
			clear(vs[n:])
			p.m[k] = vs[:n]
		}
	}
	p.n -= len(old)
	p.mu.Unlock()
	for _, v := range old {
		p.close(v)
	}
	return len(old)
}

// Close closes every parked value and refuses new ones.
func (p *Park[K, V]) Close() {
	p.mu.Lock()
	p.closed = true
	m := p.m
	p.m, p.n = make(map[K][]parked[V]), 0
	p.mu.Unlock()
	for _, vs := range m {
		for _, e := range vs {
			p.close(e.v)
		}
	}
}

// Run sweeps every half ttl, so nothing waits much longer than ttl, until
// ctx ends; it then closes the park.
func (p *Park[K, V]) Run(ctx context.Context) {
	t := time.NewTicker(p.ttl / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.Close()
			return
		case now := <-t.C:
			p.Sweep(now)
		}
	}
}
