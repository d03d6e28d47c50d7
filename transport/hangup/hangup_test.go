package hangup

import (
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// pair returns both ends of a real loopback TCP connection: the server's
// (the one watched) and the client's.
func pair(t *testing.T, ln net.Listener) (server, client net.Conn) {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close(); _ = server.Close() })
	return server, client
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

func newWatcher(t *testing.T) *Watcher {
	t.Helper()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w
}

// signal is a callback that reports on a channel.
func signal() (func(), chan struct{}) {
	ch := make(chan struct{}, 2)
	return func() { ch <- struct{}{} }, ch
}

func fired(ch chan struct{}, within time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(within):
		return false
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// act does what the client (and the server) do; want: the
		// callback runs.
		act  func(t *testing.T, wt *Watch, server, client net.Conn)
		want bool
	}{
		{name: "peer closes", want: true, act: func(t *testing.T, _ *Watch, _, client net.Conn) {
			_ = client.Close()
		}},
		{name: "peer resets", want: true, act: func(t *testing.T, _ *Watch, _, client net.Conn) {
			_ = client.(*net.TCPConn).SetLinger(0)
			_ = client.Close()
		}},
		{name: "peer half-closes", want: true, act: func(t *testing.T, _ *Watch, _, client net.Conn) {
			_ = client.(*net.TCPConn).CloseWrite()
		}},
		{name: "peer sends bytes and stays", want: false, act: func(t *testing.T, _ *Watch, _, client net.Conn) {
			for range 100 {
				if _, err := client.Write(make([]byte, 1000)); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "peer sends bytes then closes", want: true, act: func(t *testing.T, _ *Watch, _, client net.Conn) {
			if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
			_ = client.Close()
		}},
		{name: "stopped, then the peer closes", want: false, act: func(t *testing.T, wt *Watch, _, client net.Conn) {
			wt.Stop()
			_ = client.Close()
		}},
		{name: "closed here", want: false, act: func(t *testing.T, _ *Watch, server, _ net.Conn) {
			// The kernel drops a closed descriptor from the set: no event.
			_ = server.Close()
		}},
		{name: "stopped and closed here", want: false, act: func(t *testing.T, wt *Watch, server, _ net.Conn) {
			wt.Stop()
			_ = server.Close()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w, ln := newWatcher(t), listen(t)
			server, client := pair(t, ln)
			f, ch := signal()
			wt := w.Watch(server, f)
			if wt.w == nil {
				t.Fatal("a TCP connection is watched by a reading goroutine, not the epoll set")
			}
			tc.act(t, wt, server, client)
			within := 5 * time.Second
			if !tc.want {
				within = 200 * time.Millisecond
			}
			if got := fired(ch, within); got != tc.want {
				t.Fatalf("callback ran: %v, want %v", got, tc.want)
			}
			if fired(ch, 50*time.Millisecond) {
				t.Fatal("callback ran twice")
			}
		})
	}
}

// TestWatchReusedDescriptor: a connection closed here frees its number
// for the next one; the first watch's late Stop must not unwatch the
// second, and the second's hangup must not reach the first's callback.
func TestWatchReusedDescriptor(t *testing.T) {
	t.Parallel()
	w, ln := newWatcher(t), listen(t)
	var firstCalls atomic.Int32
	for range 50 {
		s1, _ := pair(t, ln)
		first := w.Watch(s1, func() { firstCalls.Add(1) })
		_ = s1.Close() // closed without Stop: the number is free
		s2, c2 := pair(t, ln)
		f, ch := signal()
		w.Watch(s2, f)
		first.Stop() // late: must leave s2's watch alone
		_ = c2.Close()
		if !fired(ch, 5*time.Second) {
			t.Fatalf("the second connection's hangup was not seen (same number: %v)", first.fd == fdOf(t, s2))
		}
	}
	if n := firstCalls.Load(); n != 0 {
		t.Fatalf("callbacks of connections closed here ran %d times", n)
	}
}

func fdOf(t *testing.T, c net.Conn) int {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	_ = rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// TestWatchMany: of 200 watched connections, exactly the half whose
// peers leave are reported, each once.
func TestWatchMany(t *testing.T) {
	t.Parallel()
	w, ln := newWatcher(t), listen(t)
	const n = 200
	calls := make([]atomic.Int32, n)
	clients := make([]net.Conn, n)
	for i := range n {
		server, client := pair(t, ln)
		clients[i] = client
		w.Watch(server, func() { calls[i].Add(1) })
	}
	if got := w.Len(); got != n {
		t.Fatalf("Len = %d, want %d", got, n)
	}
	for i := 0; i < n; i += 2 {
		_ = clients[i].Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for w.Len() > n/2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	for i := range n {
		want := int32(0)
		if i%2 == 0 {
			want = 1
		}
		if got := calls[i].Load(); got != want {
			t.Errorf("connection %d: callback ran %d times, want %d", i, got, want)
		}
	}
}

// TestWatchFallback: a connection without a descriptor (net.Pipe, as a
// TLS one) and a nil or closed watcher are watched by a reading goroutine.
func TestWatchFallback(t *testing.T) {
	t.Parallel()
	closed, err := New()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	for _, tc := range []struct {
		name string
		w    *Watcher
		tcp  bool
	}{
		{name: "no descriptor", w: newWatcher(t)},
		{name: "nil watcher", w: nil, tcp: true},
		{name: "closed watcher", w: closed, tcp: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var server, client net.Conn
			if tc.tcp {
				server, client = pair(t, listen(t))
			} else {
				server, client = net.Pipe()
				t.Cleanup(func() { _ = server.Close() })
			}
			f, ch := signal()
			wt := tc.w.Watch(server, f)
			if wt.w != nil {
				t.Fatal("watched by the epoll set")
			}
			_ = client.Close()
			if !fired(ch, 5*time.Second) {
				t.Fatal("hangup not seen")
			}
		})
	}
}

// TestCloseStopsWatching: after Close no callback runs and Stop is safe.
func TestCloseStopsWatching(t *testing.T) {
	t.Parallel()
	w, err := New()
	if err != nil {
		t.Fatal(err)
	}
	server, client := pair(t, listen(t))
	f, ch := signal()
	wt := w.Watch(server, f)
	w.Close()
	w.Close() // twice is fine
	_ = client.Close()
	if fired(ch, 200*time.Millisecond) {
		t.Fatal("callback after Close")
	}
	wt.Stop()
}

// TestWatchClose: a close watch reports the peer's close and leaves what
// the peer sent for the connection's reader.
func TestWatchClose(t *testing.T) {
	t.Parallel()
	w, ln := newWatcher(t), listen(t)
	server, client := pair(t, ln)
	f, ch := signal()
	wt := w.WatchClose(server, f)
	if wt == nil {
		t.Fatal("a TCP connection cannot be close-watched")
	}
	if _, err := client.Write([]byte("next request")); err != nil {
		t.Fatal(err)
	}
	if fired(ch, 200*time.Millisecond) {
		t.Fatal("bytes from the peer reported as a hangup")
	}
	wt.Stop()
	buf := make([]byte, 64)
	_ = server.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := server.Read(buf); err != nil || string(buf[:n]) != "next request" {
		t.Fatalf("read %q, %v: the watch took the peer's bytes", buf[:n], err)
	}
	// Watched again, then the peer leaves.
	f2, ch2 := signal()
	w.WatchClose(server, f2)
	_ = client.Close()
	if !fired(ch2, 5*time.Second) {
		t.Fatal("the peer's close was not seen")
	}
	if fired(ch, 50*time.Millisecond) {
		t.Fatal("a stopped watch's callback ran")
	}
	if (*Watcher)(nil).WatchClose(server, f) != nil {
		t.Fatal("a nil watcher close-watches")
	}
}
