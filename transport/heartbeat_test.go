package transport

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
)

// TestHeartbeatGap measures the longest silence on a real stream while
// publications come at moments unrelated to the heartbeat ticker: no gap
// between two writes may exceed the ping interval, whenever the last
// write happened. A ticker that pinged only streams quiet for most of a
// whole interval left gaps of almost two.
func TestHeartbeatGap(t *testing.T) {
	t.Parallel()
	const ping = 1 * time.Second
	for _, noHijack := range []bool{false, true} {
		t.Run(map[bool]string{false: "hijacked", true: "handler"}[noHijack], func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(o *Options, _ *structure.Project) { o.NoHijack = noHijack; o.Ping = ping })
			resp, err := http.Get(s.url + "/connection/p/sse?" + q("token", s.token("u"), "channel", "gap"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			arrivals := make(chan time.Time, 1024)
			go func() {
				defer close(arrivals)
				buf := make([]byte, 4096)
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						return
					}
					arrivals <- time.Now()
				}
			}()
			<-arrivals // the opening
			// Publish at offsets inside the ping interval that drift
			// against the ticker: 0.3, 0.55, 0.8 and 0.95 of it.
			go func() {
				for _, f := range []float64{0.3, 0.55, 0.8, 0.95, 0.3} {
					time.Sleep(time.Duration(f * float64(ping)))
					s.publish("gap", map[string]int{"n": 1})
					time.Sleep(ping / 10)
				}
			}()
			end := time.After(6 * ping)
			last, worst := time.Now(), time.Duration(0)
			for wait := true; wait; {
				select {
				case at, ok := <-arrivals:
					if !ok {
						t.Fatal("stream ended")
					}
					worst = max(worst, at.Sub(last))
					last = at
				case <-end:
					wait = false
				}
			}
			worst = max(worst, time.Since(last))
			t.Logf("longest silence %v with ping %v", worst.Round(time.Millisecond), ping)
			if worst > ping {
				t.Fatalf("the stream was silent for %v, longer than the ping interval %v", worst, ping)
			}
		})
	}
}

// TestClockPings: a stream opened with clock=1 carries ping events with
// the server's time instead of comment heartbeats, while quiet and
// (at most every clockEvery) among publications; a stream without it
// carries no ping event.
func TestClockPings(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	read := func(extra string) (pings []int64, comments int) {
		resp, err := http.Get(s.url + "/connection/p/sse?" + q("token", s.token("u"), "channel", "clock") + extra)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		done := time.AfterFunc(2500*time.Millisecond, func() { resp.Body.Close() })
		defer done.Stop()
		sc := bufio.NewScanner(resp.Body)
		ping := false
		for sc.Scan() {
			switch line := sc.Text(); {
			case line == "event: ping":
				ping = true
			case ping && strings.HasPrefix(line, "data: "):
				var d struct{ Time int64 }
				if err := json.Unmarshal([]byte(line[6:]), &d); err != nil {
					t.Fatalf("ping data %q: %v", line, err)
				}
				pings = append(pings, d.Time)
				ping = false
			case line == ": ping":
				comments++
			}
		}
		return pings, comments
	}
	start := time.Now().UnixMilli()
	pings, comments := read("&clock=1")
	if len(pings) < 2 || comments != 0 {
		t.Fatalf("clock stream: %d ping events, %d comments in 2.5s with ping 1s; want ≥2 events, no comment", len(pings), comments)
	}
	for _, ms := range pings {
		if ms < start-1000 || ms > time.Now().UnixMilli() {
			t.Fatalf("ping time %d outside the test's %d..now", ms, start)
		}
	}
	pings, comments = read("")
	if len(pings) != 0 || comments < 2 {
		t.Fatalf("plain stream: %d ping events, %d comments; want none and ≥2", len(pings), comments)
	}
}

// TestClockTrailingPing: on a clock stream every event is followed by a
// ping within clockEvery, even when it went out right after a ping (a
// write too soon for a ping of its own): a client that sees an event and
// then nothing knows the rest is held. The heartbeat alone would come only
// 0.8 × ping (800 ms here) later.
func TestClockTrailingPing(t *testing.T) {
	t.Parallel()
	for _, noHijack := range []bool{false, true} {
		t.Run(map[bool]string{false: "hijacked", true: "handler"}[noHijack], func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(o *Options, _ *structure.Project) { o.NoHijack = noHijack })
			st := s.openSSE(q("token", s.token("u"), "channel", "trail")+"&clock=1", nil)
			defer st.close()
			st.next("sub")
			st.next("ping") // with the opening
			st.next("ping") // the nudge, 100 ms later
			s.publish("trail", map[string]int{"n": 1})
			if ev := st.next(); ev.Event != "pub" {
				t.Fatalf("got %+v, want the pub", ev)
			}
			pubAt := time.Now()
			if ev := st.next(); ev.Event != "ping" {
				t.Fatalf("got %+v after the pub, want a ping", ev)
			}
			if d := time.Since(pubAt); d > clockEvery {
				t.Fatalf("the ping came %v after the pub, want within %v", d, clockEvery)
			} else {
				t.Logf("ping %v after the pub", d.Round(time.Millisecond))
			}
		})
	}
}

// TestStreamEnds: the heartbeat ticker ends a stream when its token
// expires (3004) or its http.stream_lifetime is reached (3000), never
// before and at most one ticker slice (ping/5) after.
func TestStreamEnds(t *testing.T) {
	t.Parallel()
	const ping = time.Second
	type disc struct {
		Code      int
		Reason    string
		Reconnect bool
	}
	for _, tc := range []struct {
		name     string
		exp      time.Duration // the token's exp from now (whole seconds on the wire)
		lifetime time.Duration
		want     int
		// The end falls within [earliest, latest] after opening: exp has
		// whole seconds, the lifetime ±10 % jitter.
		earliest, latest time.Duration
	}{
		{name: "token expires", exp: 2 * time.Second, want: 3004, earliest: time.Second, latest: 2 * time.Second},
		{name: "lifetime reached", exp: time.Hour, lifetime: time.Second, want: 3000, earliest: 900 * time.Millisecond, latest: 1100 * time.Millisecond},
		{name: "token expires before the lifetime", exp: 2 * time.Second, lifetime: time.Hour, want: 3004, earliest: time.Second, latest: 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(o *Options, _ *structure.Project) { o.Ping, o.StreamLifetime = ping, tc.lifetime })
			exp := time.Now().Add(tc.exp)
			tok, err := auth.MintConnectionToken([]byte(testSecret), auth.ConnectionClaims{User: "u", Expires: exp})
			if err != nil {
				t.Fatal(err)
			}
			opened := time.Now()
			st := s.openSSE(q("token", tok, "channel", "room"), nil)
			st.next("sub")
			d := decode[disc](t, st.next("disconnect").Data)
			took := time.Since(opened)
			if d.Code != tc.want || !d.Reconnect {
				t.Fatalf("disconnect %+v, want %d with reconnect", d, tc.want)
			}
			if took < tc.earliest {
				t.Errorf("stream ended after %s, before its end (%s at the earliest)", took, tc.earliest)
			}
			// One ticker slice late at most; the rest is slack for a busy
			// machine.
			if latest := tc.latest + ping/heartbeatSlices + 2*time.Second; took > latest {
				t.Errorf("stream ended after %s, later than %s", took, latest)
			}
			if _, ok := <-st.events; ok {
				t.Error("an event after the disconnect")
			}
		})
	}
}
