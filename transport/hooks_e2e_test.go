package transport

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
)

// TestPublishHook: the pre-publish hook passes, replaces and cancels a
// client's publication, and fails closed on a timeout or an error status.
func TestPublishHook(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	be := startBackend(t, func(_ int, body []byte, w http.ResponseWriter) {
		var req struct {
			Channel, Client, User string
			Data                  struct{ N int }
		}
		_ = json.Unmarshal(body, &req)
		switch req.Data.N {
		case 1:
			_, _ = w.Write([]byte(`{}`))
		case 2:
			_, _ = w.Write([]byte(`{"data":{"n":20}}`))
		case 3:
			_, _ = w.Write([]byte(`{"cancel":true,"reason":"no spam please"}`))
		case 4:
			w.WriteHeader(500)
		case 5:
			select {
			case <-time.After(5 * time.Second):
			case <-stop:
			}
		case 6:
			_, _ = w.Write([]byte(`not json`))
		}
	})
	t.Cleanup(func() { close(stop) })
	s := startServer(t, func(o *Options, p *structure.Project) {
		p.PublishHookURL = be.url
		o.HookTimeout = 200 * time.Millisecond
	})
	c := s.connect(s.token("u1"))
	st := s.openSSE(q("session", c.Session, "grant", s.subscribe(c.Session, "pub:room")), nil)
	st.next("sub")
	tests := []struct {
		n    int
		code int
		msg  string
	}{
		{1, 0, ""},
		{2, 0, ""},
		{3, 103, "no spam please"},
		{4, 100, ""},
		{5, 100, ""},
		{6, 100, ""},
	}
	for _, tt := range tests {
		r := s.command(c.Session, cmd{Method: "publish", Params: map[string]any{"channel": "pub:room", "data": map[string]int{"n": tt.n}}})[0]
		switch {
		case tt.code == 0 && r.Error != nil:
			t.Errorf("n=%d: %+v, want success", tt.n, r.Error)
		case tt.code != 0 && (r.Error == nil || r.Error.Code != tt.code || tt.msg != "" && r.Error.Message != tt.msg):
			t.Errorf("n=%d: %s %+v, want code %d %q", tt.n, r.Result, r.Error, tt.code, tt.msg)
		}
	}
	// The server API does not go through the hook.
	s.publish("pub:room", map[string]int{"n": 7})
	for _, want := range []int{1, 20, 7} {
		if p := decode[pubData](t, st.next("pub").Data); p.Data.N != want {
			t.Fatalf("pub n=%d, want %d", p.Data.N, want)
		}
	}
	calls := be.callList()
	if len(calls) != 6 {
		t.Fatalf("hook got %d calls, want 6", len(calls))
	}
	req := decode[struct{ Channel, Client, User string }](t, string(calls[0].Body))
	if req.Channel != "pub:room" || req.Client != c.Client || req.User != "u1" {
		t.Errorf("hook request = %s", calls[0].Body)
	}
	if !auth.VerifyTimestampedSignature([]byte(testSecret), calls[0].Body, calls[0].Timestamp, calls[0].Signature) {
		t.Errorf("X-Rotor-Signature %q does not verify", calls[0].Signature)
	}
}

// TestEventsHook: the events hook gets connect, channel_occupied, join,
// publish, channel_vacated, disconnect and leave events, signed, even when it answers 500 twice before 200.
func TestEventsHook(t *testing.T) {
	t.Parallel()
	type event struct {
		Type, Channel, Client, User string
		Time                        int64
		Offset                      uint64
	}
	be := startBackend(t, func(n int, _ []byte, w http.ResponseWriter) {
		if n <= 2 {
			w.WriteHeader(500)
		}
	})
	s := startServer(t, func(_ *Options, p *structure.Project) { p.EventsHookURL = be.url })
	c := s.connect(s.token("u1"))
	st := s.openSSE(q("session", c.Session, "grant", s.subscribe(c.Session, "pub:room")), nil)
	st.next("sub")
	s.command(c.Session, cmd{Method: "publish", Params: map[string]any{"channel": "pub:room", "data": map[string]int{"n": 1}}})
	s.publish("pub:room", map[string]int{"n": 2})
	st.next("pub")
	st.next("pub")
	st.close()

	want := []string{"connect", "channel_occupied", "join", "publish", "publish", "channel_vacated", "disconnect", "leave"}
	var got []event
	eventually(t, "every event delivered", func() bool {
		got = got[:0]
		calls := be.callList()
		for i, c := range calls {
			if !auth.VerifyTimestampedSignature([]byte(testSecret), c.Body, c.Timestamp, c.Signature) {
				t.Fatalf("call %d: signature %q does not verify", i, c.Signature)
			}
			if i < 2 {
				continue // answered 500: the dispatcher sends them again
			}
			var b struct{ Events []event }
			if err := json.Unmarshal(c.Body, &b); err != nil {
				t.Fatalf("call %d: %q: %v", i, c.Body, err)
			}
			got = append(got, b.Events...)
		}
		return len(got) >= len(want)
	})
	if len(got) != len(want) {
		t.Fatalf("got %d events %+v, want %v", len(got), got, want)
	}
	for i, ev := range got {
		if ev.Type != want[i] || ev.Time == 0 {
			t.Errorf("event %d = %+v, want type %s", i, ev, want[i])
		}
		if ev.Type != "connect" && ev.Type != "disconnect" && ev.Channel != "pub:room" {
			t.Errorf("event %d = %+v, want channel pub:room", i, ev)
		}
	}
	if got[0].Client != c.Client || got[0].User != "u1" || got[2].User != "u1" || got[3].Offset != 1 || got[4].Offset != 2 || got[6].Client != c.Client {
		t.Errorf("events = %+v", got)
	}
}
