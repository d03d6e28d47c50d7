package transport

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestServerAPIIdempotency publishes with idempotency keys through
// publish, broadcast and batch, and checks that repeats answer the first
// result while history and a subscriber see each publication once.
func TestServerAPIIdempotency(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := s.connect(s.token("u"))
	st := s.openSSE(q("session", c.Session, "grant", s.subscribe(c.Session, "pub:a")), nil)
	st.next("sub")
	call := func(method string, body any) apiAnswer {
		t.Helper()
		b, _ := json.Marshal(body)
		code, r := s.apiRaw(method, "p-api-key", b)
		if code != 200 {
			t.Fatalf("%s: HTTP %d %+v", method, code, r.Error)
		}
		return r
	}
	type pos struct {
		Offset uint64
		Epoch  string
	}
	publish := func(n int, key string) pos {
		t.Helper()
		r := call("publish", map[string]any{"channel": "pub:a", "data": map[string]int{"n": n}, "idempotency_key": key})
		if r.Error != nil {
			t.Fatalf("publish: %+v", r.Error)
		}
		return decode[pos](t, string(r.Result))
	}

	first := publish(1, "k1")
	if again := publish(1, "k1"); again != first {
		t.Fatalf("repeat answered %+v, want %+v", again, first)
	}
	batch := decode[struct{ Replies []apiAnswer }](t, string(call("batch", map[string]any{"commands": []map[string]any{
		{"method": "publish", "params": map[string]any{"channel": "pub:a", "data": map[string]int{"n": 1}, "idempotency_key": "k1"}},
		{"method": "publish", "params": map[string]any{"channel": "pub:a", "data": map[string]int{"n": 2}, "idempotency_key": "k2"}},
	}}).Result))
	if len(batch.Replies) != 2 || batch.Replies[0].Error != nil || batch.Replies[1].Error != nil {
		t.Fatalf("batch = %+v", batch)
	}
	if p := decode[pos](t, string(batch.Replies[0].Result)); p != first {
		t.Fatalf("repeat in batch answered %+v, want %+v", p, first)
	}
	if p := decode[pos](t, string(batch.Replies[1].Result)); p.Offset != 2 {
		t.Fatalf("new key in batch answered %+v, want offset 2", p)
	}

	// Keys are per channel: one broadcast key publishes once to each.
	type bcast struct{ Results []pos }
	bcBody := map[string]any{"channels": []string{"pub:a", "pub:b"}, "data": map[string]int{"n": 3}, "idempotency_key": "k3"}
	bc1 := decode[bcast](t, string(call("broadcast", bcBody).Result))
	bc2 := decode[bcast](t, string(call("broadcast", bcBody).Result))
	if len(bc1.Results) != 2 || bc1.Results[0].Offset != 3 || bc1.Results[1].Offset != 1 {
		t.Fatalf("broadcast = %+v", bc1)
	}
	if len(bc2.Results) != 2 || bc2.Results[0] != bc1.Results[0] || bc2.Results[1] != bc1.Results[1] {
		t.Fatalf("repeated broadcast = %+v, want %+v", bc2, bc1)
	}

	for _, want := range []int{1, 2, 3} {
		if p := decode[pubData](t, st.next("pub").Data); p.Data.N != want {
			t.Fatalf("subscriber got n=%d, want %d", p.Data.N, want)
		}
	}
	h := decode[struct{ Publications []pubData }](t, string(call("history", map[string]any{"channel": "pub:a"}).Result))
	if len(h.Publications) != 3 {
		t.Fatalf("history has %d publications, want 3: %+v", len(h.Publications), h.Publications)
	}
	// A fresh publication after the repeats is offset 4: nothing was
	// published in between.
	if p := publish(4, ""); p.Offset != 4 {
		t.Fatalf("publish after repeats: offset %d, want 4", p.Offset)
	}
	if p := decode[pubData](t, st.next("pub").Data); p.Data.N != 4 {
		t.Fatalf("subscriber got n=%d after the repeats, want 4", p.Data.N)
	}

	long := strings.Repeat("x", 129)
	for _, m := range []string{"publish", "broadcast"} {
		r := call(m, map[string]any{"channel": "pub:a", "channels": []string{"pub:a"}, "data": 1, "idempotency_key": long})
		if r.Error == nil || r.Error.Code != 107 || !strings.Contains(r.Error.Message, "idempotency_key") {
			t.Fatalf("%s with a 129-byte key: %+v, want error 107 naming idempotency_key", m, r.Error)
		}
	}
	if r := call("publish", map[string]any{"channel": "pub:a", "data": 1, "idempotency_key": strings.Repeat("x", 128)}); r.Error != nil {
		t.Fatalf("128-byte key: %+v", r.Error)
	}
}
