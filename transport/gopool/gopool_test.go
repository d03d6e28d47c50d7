package gopool

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitFor polls cond for up to two seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEveryTaskRunsOnce(t *testing.T) {
	for _, tc := range []struct {
		name    string
		maxIdle int
		tasks   int
	}{
		{"one idle", 1, 1000},
		{"several idle", 8, 1000},
		{"zero means one", 0, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			counts := make([]atomic.Int32, tc.tasks)
			p := New(tc.maxIdle, func(i int) {
				counts[i].Add(1)
				wg.Done()
			})
			defer p.Stop()
			wg.Add(tc.tasks)
			for i := range tc.tasks {
				p.Go(i)
			}
			wg.Wait()
			for i := range counts {
				if n := counts[i].Load(); n != 1 {
					t.Fatalf("task %d ran %d times", i, n)
				}
			}
		})
	}
}

// A task that blocks does not hold the others back: Go starts a goroutine
// when none is idle.
func TestBlockedTaskDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	done := make(chan int, 10)
	p := New(2, func(i int) {
		if i == 0 {
			<-release
		}
		done <- i
	})
	defer p.Stop()
	p.Go(0)
	for i := 1; i < 10; i++ {
		p.Go(i)
	}
	for range 9 {
		select {
		case i := <-done:
			if i == 0 {
				t.Fatal("the blocked task finished before it was released")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("a task waited for the blocked one")
		}
	}
	close(release)
	if i := <-done; i != 0 {
		t.Fatalf("got task %d, want the released one", i)
	}
}

// No more than maxIdle goroutines wait, and Stop ends them.
func TestIdleBoundAndStop(t *testing.T) {
	const maxIdle = 3
	var running sync.WaitGroup
	gate := make(chan struct{})
	p := New(maxIdle, func(int) {
		running.Done()
		<-gate
	})
	running.Add(10)
	for i := range 10 {
		p.Go(i)
	}
	running.Wait() // ten goroutines, each in its task
	close(gate)
	waitFor(t, "the idle goroutines to settle", func() bool { return p.idle.Load() == maxIdle })
	time.Sleep(10 * time.Millisecond)
	if n := p.idle.Load(); n != maxIdle {
		t.Fatalf("%d idle goroutines, want %d", n, maxIdle)
	}
	p.Stop()
	waitFor(t, "Stop to end the idle goroutines", func() bool { return p.idle.Load() == 0 })
	// A task given after Stop still runs.
	ran := make(chan struct{})
	q := New(1, func(int) { close(ran) })
	q.Stop()
	q.Go(1)
	select {
	case <-ran:
	case <-time.After(2 * time.Second):
		t.Fatal("a task given after Stop did not run")
	}
}

// BenchmarkGo hands tasks that call deep to the pool, against a goroutine
// per task: the pool's goroutines keep the stack they grew.
func BenchmarkGo(b *testing.B) {
	for _, bc := range []struct {
		name string
		pool bool
	}{{"goroutine per task", false}, {"pool", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var wg sync.WaitGroup
			task := func(int) {
				deep(24)
				wg.Done()
			}
			p := New(4, task)
			defer p.Stop()
			b.ReportAllocs()
			for b.Loop() {
				wg.Add(1)
				if bc.pool {
					p.Go(0)
				} else {
					go task(0)
				}
				wg.Wait()
			}
		})
	}
}

// deep uses about n×256 bytes of stack.
//
//go:noinline
func deep(n int) byte {
	var pad [224]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[n%len(pad)]
}

// BenchmarkGrowStack runs a deep task on a new goroutine with and without
// GrowStack first.
func BenchmarkGrowStack(b *testing.B) {
	for _, bc := range []struct {
		name string
		grow bool
	}{{"grown on the way", false}, {"GrowStack first", true}} {
		b.Run(bc.name, func(b *testing.B) {
			done := make(chan struct{})
			b.ReportAllocs()
			for b.Loop() {
				go func() {
					if bc.grow {
						GrowStack()
					}
					deepFrames(40)
					done <- struct{}{}
				}()
				<-done
			}
		})
	}
}

// deepFrames uses n frames of about 400 bytes each.
//
//go:noinline
func deepFrames(n int) byte {
	var pad [384]byte
	pad[n%len(pad)] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deepFrames(n-1) + pad[n%len(pad)]
}
