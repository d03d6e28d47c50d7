package park

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

// closer records what a park closed.
type closer struct {
	mu     sync.Mutex
	closed []string
}

func (c *closer) close(v string) {
	c.mu.Lock()
	c.closed = append(c.closed, v)
	c.mu.Unlock()
}

func (c *closer) got() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := slices.Clone(c.closed)
	slices.Sort(out)
	return out
}

func TestPutTake(t *testing.T) {
	tests := []struct {
		name string
		puts [][2]string // key, value
		take string
		want string
		ok   bool
		left int
	}{
		{name: "miss on an empty park", take: "a", ok: false},
		{name: "miss on another key", puts: [][2]string{{"a", "1"}}, take: "b", ok: false, left: 1},
		{name: "hit", puts: [][2]string{{"a", "1"}}, take: "a", want: "1", ok: true},
		{name: "latest first", puts: [][2]string{{"a", "1"}, {"a", "2"}, {"b", "3"}}, take: "a", want: "2", ok: true, left: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &closer{}
			p := New[string, string](time.Minute, c.close)
			for _, kv := range tt.puts {
				if !p.Put(kv[0], kv[1]) {
					t.Fatalf("Put(%q) refused on an open park", kv[0])
				}
			}
			v, ok := p.Take(tt.take)
			if ok != tt.ok || v != tt.want {
				t.Fatalf("Take(%q) = %q, %v; want %q, %v", tt.take, v, ok, tt.want, tt.ok)
			}
			if p.Len() != tt.left {
				t.Fatalf("Len = %d, want %d", p.Len(), tt.left)
			}
			if len(c.got()) != 0 {
				t.Fatalf("closed %v; Put and Take close nothing", c.got())
			}
		})
	}
}

// A value taken is the caller's: taking it again misses.
func TestTakeOnce(t *testing.T) {
	p := New[string, string](time.Minute, func(string) {})
	p.Put("a", "1")
	if _, ok := p.Take("a"); !ok {
		t.Fatal("first Take missed")
	}
	if v, ok := p.Take("a"); ok {
		t.Fatalf("second Take = %q; the value was taken already", v)
	}
}

func TestSweep(t *testing.T) {
	c := &closer{}
	p := New[string, string](time.Second, c.close)
	p.Put("a", "old-a")
	p.Put("b", "old-b")
	time.Sleep(20 * time.Millisecond)
	mid := time.Now()
	p.Put("a", "new-a")
	// At mid+ttl the first two are at least ttl old, the third is not.
	if n := p.Sweep(mid.Add(time.Second - time.Millisecond)); n != 2 {
		t.Fatalf("Sweep closed %d, want 2", n)
	}
	if got, want := c.got(), []string{"old-a", "old-b"}; !slices.Equal(got, want) {
		t.Fatalf("closed %v, want %v", got, want)
	}
	if v, ok := p.Take("a"); !ok || v != "new-a" {
		t.Fatalf("Take(a) after Sweep = %q, %v; want new-a", v, ok)
	}
	if _, ok := p.Take("b"); ok {
		t.Fatal("Take(b) found a swept value")
	}
	if p.Len() != 0 {
		t.Fatalf("Len = %d, want 0", p.Len())
	}
}

func TestClose(t *testing.T) {
	c := &closer{}
	p := New[string, string](time.Minute, c.close)
	p.Put("a", "1")
	p.Put("a", "2")
	p.Put("b", "3")
	p.Close()
	if got, want := c.got(), []string{"1", "2", "3"}; !slices.Equal(got, want) {
		t.Fatalf("closed %v, want %v", got, want)
	}
	if p.Put("a", "4") {
		t.Fatal("Put accepted a value after Close")
	}
	if _, ok := p.Take("a"); ok {
		t.Fatal("Take found a value after Close")
	}
}

// Run sweeps by itself and closes everything when its context ends.
func TestRun(t *testing.T) {
	c := &closer{}
	p := New[string, string](40*time.Millisecond, c.close)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { p.Run(ctx); close(ran) }()
	p.Put("a", "swept")
	deadline := time.Now().Add(5 * time.Second)
	for len(c.got()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := c.got(); !slices.Equal(got, []string{"swept"}) {
		t.Fatalf("closed %v by the sweep, want [swept]", got)
	}
	p.Put("b", "kept")
	cancel()
	<-ran
	if got := c.got(); !slices.Equal(got, []string{"kept", "swept"}) {
		t.Fatalf("closed %v once Run ended, want [kept swept]", got)
	}
	if p.Put("c", "late") {
		t.Fatal("Put accepted a value after Run ended")
	}
}
