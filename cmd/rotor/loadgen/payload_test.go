package loadgen

import (
	"encoding/json"
	"testing"
)

func TestPayload(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 10, 100, 1000} {
		b := appendPayload(nil, 42, 1764000000123456789, size)
		var v struct {
			Seq uint64 `json:"seq"`
			TS  int64  `json:"ts"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("size %d: %s: %v", size, b, err)
		}
		if v.Seq != 42 || v.TS != 1764000000123456789 {
			t.Fatalf("size %d: decoded %+v", size, v)
		}
		if size > 40 && len(b) != size {
			t.Fatalf("size %d: payload is %d bytes", size, len(b))
		}
	}
}

func TestParsePub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		ok       bool
		want     pubFields
	}{
		{"full", `{"channel":"ns:c-1","offset":17,"data":{"seq":5,"ts":123,"p":"xx"}}`, true,
			pubFields{channel: []byte("ns:c-1"), offset: 17, seq: 5, ts: 123}},
		{"foreign data", `{"channel":"c","offset":3,"data":{"text":"hi"}}`, true,
			pubFields{channel: []byte("c"), offset: 3}},
		{"poll segment", `","data":{"channel":"c","offset":9,"data":{"seq":1,"ts":2}}},`, true,
			pubFields{channel: []byte("c"), offset: 9, seq: 1, ts: 2}},
		{"no offset", `{"channel":"c","data":{}}`, false, pubFields{}},
		{"no channel", `{"offset":1}`, false, pubFields{}},
		{"offset not a number", `{"channel":"c","offset":"x"}`, false, pubFields{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := parsePub([]byte(tt.in))
			if ok != tt.ok {
				t.Fatalf("ok = %v", ok)
			}
			if ok && (string(got.channel) != string(tt.want.channel) || got.offset != tt.want.offset || got.seq != tt.want.seq || got.ts != tt.want.ts) {
				t.Fatalf("got %+v (channel %q), want %+v", got, got.channel, tt.want)
			}
		})
	}
}

func TestParseSub(t *testing.T) {
	t.Parallel()
	ch, off, rec, ok := parseSub([]byte(`{"channel":"a","epoch":"xyz","offset":12,"recovered":true}`))
	if !ok || string(ch) != "a" || off != 12 || !rec {
		t.Fatalf("got %q %d %v %v", ch, off, rec, ok)
	}
	_, _, rec, ok = parseSub([]byte(`{"channel":"a","epoch":"xyz","offset":0,"recovered":false}`))
	if !ok || rec {
		t.Fatalf("recovered false: got %v %v", rec, ok)
	}
}
