package longpoll

import (
	"encoding/json"
	"testing"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

func TestSink(t *testing.T) {
	var s Sink
	s.Event(pubsub.EventSub, []byte("id-1"), []byte(`{"channel":"a"}`))
	s.Event(pubsub.EventPub, []byte("id-2"), []byte(`{"n":1}`))
	var events []struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(append(append([]byte{'['}, s.Buf...), ']'), &events); err != nil {
		t.Fatalf("events %q are not a JSON array's items: %v", s.Buf, err)
	}
	if s.N != 2 || len(events) != 2 || events[0].Event != "sub" || events[1].Event != "pub" || string(events[1].Data) != `{"n":1}` {
		t.Fatalf("N=%d events %+v", s.N, events)
	}
	if s.ended {
		t.Fatal("sub and pub end a sink")
	}
	for _, kind := range []pubsub.EventKind{pubsub.EventUnsub, pubsub.EventDisconnect} {
		s.reset()
		if s.N != 0 || len(s.Buf) != 0 || s.ended {
			t.Fatalf("reset left N=%d buf %q ended %v", s.N, s.Buf, s.ended)
		}
		s.Event(kind, nil, []byte(`{}`))
		if !s.ended {
			t.Errorf("%s does not end the sink", kind)
		}
	}
}

func TestKeyOf(t *testing.T) {
	p := &structure.Project{ID: "p"}
	base := node.StreamRequest{Project: p, IP: "1.2.3.4", HTTPVersion: "1.1", Token: "t", Channels: []string{"a", "b"}, Since: "s"}
	tests := []struct {
		name     string
		edit     func(*node.StreamRequest)
		limits   node.Limits
		parkable bool
	}{
		{name: "inline form", parkable: true},
		{name: "anonymous", edit: func(r *node.StreamRequest) { r.Token = "" }, parkable: true},
		{name: "grant form", edit: func(r *node.StreamRequest) { r.GrantForm, r.Session, r.Grants = true, "s", []string{"g"} }},
		{name: "subscription token", edit: func(r *node.StreamRequest) { r.SubTokens = []string{"st"} }},
		{name: "private channel", edit: func(r *node.StreamRequest) { r.Channels = []string{"a", "ns:$b"} }},
		{name: "connections_per_ip", limits: node.Limits{ConnectionsPerIP: 1}},
		{name: "streams_per_client", limits: node.Limits{StreamsPerClient: 1}},
		{name: "channels_per_client", limits: node.Limits{ChannelsPerClient: 1}},
		{name: "publish_rate does not matter", limits: node.Limits{PublishRate: 1}, parkable: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := base
			if tt.edit != nil {
				tt.edit(&req)
			}
			if _, ok := KeyOf(req, tt.limits); ok != tt.parkable {
				t.Fatalf("parkable %v, want %v", ok, tt.parkable)
			}
		})
	}
}

// Two requests share a key only when everything but timeout matches.
func TestKeyOfMatches(t *testing.T) {
	p, p2 := &structure.Project{ID: "p"}, &structure.Project{ID: "p"}
	base := node.StreamRequest{Project: p, IP: "1.2.3.4", HTTPVersion: "1.1", Token: "t", Channels: []string{"a", "b"}, Since: "s"}
	k0, _ := KeyOf(base, node.Limits{})
	tests := []struct {
		name string
		edit func(*node.StreamRequest)
		same bool
	}{
		{name: "same request", edit: func(*node.StreamRequest) {}, same: true},
		{name: "another snapshot of the project", edit: func(r *node.StreamRequest) { r.Project = p2 }},
		{name: "another address", edit: func(r *node.StreamRequest) { r.IP = "1.2.3.5" }},
		{name: "another HTTP version", edit: func(r *node.StreamRequest) { r.HTTPVersion = "2" }},
		{name: "another token", edit: func(r *node.StreamRequest) { r.Token = "u" }},
		{name: "channels in another order", edit: func(r *node.StreamRequest) { r.Channels = []string{"b", "a"} }},
		{name: "channels split elsewhere", edit: func(r *node.StreamRequest) { r.Channels = []string{"a\x00b"} }},
		{name: "another since", edit: func(r *node.StreamRequest) { r.Since = "s2" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := base
			tt.edit(&req)
			if k, _ := KeyOf(req, node.Limits{}); (k == k0) != tt.same {
				t.Fatalf("same key %v, want %v", k == k0, tt.same)
			}
		})
	}
}

func TestParseTimeout(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"", DefaultTimeout, true},
		{"0", 0, true},
		{"10", 10, true},
		{"61", MaxTimeout, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"1.5", 0, false},
	} {
		if got, ok := ParseTimeout(tc.in); got != tc.want || ok != tc.ok {
			t.Errorf("ParseTimeout(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestAppendJSONString: an answer's id is encoded as encoding/json
// encodes it, whatever it holds.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "abc:12.def:3", "e-1_2:0", `q"uote`, `back\slash`, "<&>", "tab\t", "\x00", "\x7f", "é", "\xff", "\u2028"} {
		want, _ := json.Marshal(s)
		if got := appendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Errorf("%q: %s, want x%s", s, got, want)
		}
	}
}
