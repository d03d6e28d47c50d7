package apiclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/transport/apiclient"
)

func newClient(t *testing.T, url string, opts apiclient.Options) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(url, apiKey, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// TestMethods calls every method of the server API once against a real
// server and checks the typed results.
func TestMethods(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := newClient(t, rotorURL, apiclient.Options{})

	p1, err := c.Publish(ctx, apiclient.PublishRequest{Channel: "methods", Data: map[string]int{"n": 1}})
	if err != nil || p1.Offset != 1 || p1.Epoch == "" {
		t.Fatalf("Publish = %+v, %v", p1, err)
	}
	p2, err := c.Publish(ctx, apiclient.PublishRequest{Channel: "methods", Data: json.RawMessage(`{"n":2}`), IdempotencyKey: "two"})
	if err != nil || p2.Offset != 2 {
		t.Fatalf("Publish = %+v, %v", p2, err)
	}
	if again, err := c.Publish(ctx, apiclient.PublishRequest{Channel: "methods", Data: 2, IdempotencyKey: "two"}); err != nil || again != p2 {
		t.Fatalf("Publish with a used key = %+v, %v; want %+v", again, err, p2)
	}

	bc, err := c.Broadcast(ctx, apiclient.BroadcastRequest{Channels: []string{"methods", "methods-b", "nope:x"}, Data: 3})
	if err != nil || len(bc.Results) != 3 || bc.Results[0].Offset != 3 || bc.Results[1].Offset != 1 {
		t.Fatalf("Broadcast = %+v, %v", bc, err)
	}
	if e := bc.Results[2].Error; e == nil || e.Code != apiclient.CodeUnknownChannel {
		t.Fatalf("Broadcast to an unknown namespace: %+v", e)
	}

	h, err := c.History(ctx, apiclient.HistoryRequest{Channel: "methods"})
	if err != nil || len(h.Publications) != 3 || h.Offset != 3 || h.Epoch != p1.Epoch {
		t.Fatalf("History = %+v, %v", h, err)
	}
	if string(h.Publications[0].Data) != `{"n":1}` || h.Publications[0].Channel != "methods" {
		t.Fatalf("History first publication = %+v", h.Publications[0])
	}
	limit := 1
	h, err = c.History(ctx, apiclient.HistoryRequest{Channel: "methods", Limit: &limit, Reverse: true})
	if err != nil || len(h.Publications) != 1 || h.Publications[0].Offset != 3 {
		t.Fatalf("History reverse limit 1 = %+v, %v", h, err)
	}
	h, err = c.History(ctx, apiclient.HistoryRequest{Channel: "methods", Since: &apiclient.Position{Epoch: p1.Epoch, Offset: 2}})
	if err != nil || len(h.Publications) != 1 || h.Publications[0].Offset != 3 {
		t.Fatalf("History since 2 = %+v, %v", h, err)
	}
	if err := c.RemoveHistory(ctx, "methods"); err != nil {
		t.Fatal(err)
	}
	if h, err = c.History(ctx, apiclient.HistoryRequest{Channel: "methods"}); err != nil || len(h.Publications) != 0 || h.Offset != 3 {
		t.Fatalf("History after RemoveHistory = %+v, %v", h, err)
	}

	pres, err := c.Presence(ctx, "methods")
	if err != nil || len(pres) != 0 {
		t.Fatalf("Presence = %+v, %v", pres, err)
	}
	stats, err := c.PresenceStats(ctx, "methods")
	if err != nil || stats != (apiclient.PresenceStats{}) {
		t.Fatalf("PresenceStats = %+v, %v", stats, err)
	}
	chans, err := c.Channels(ctx, "")
	if err != nil || chans == nil {
		t.Fatalf("Channels = %+v, %v", chans, err)
	}
	nodes, err := c.Info(ctx)
	if err != nil || len(nodes) != 1 || nodes[0].ID == "" {
		t.Fatalf("Info = %+v, %v", nodes, err)
	}
	if err := c.Unsubscribe(ctx, "methods", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.Disconnect(ctx, "alice", true); err != nil {
		t.Fatal(err)
	}

	replies, err := c.Batch(ctx,
		apiclient.PublishCommand(apiclient.PublishRequest{Channel: "methods", Data: 4, IdempotencyKey: "four"}),
		apiclient.PublishCommand(apiclient.PublishRequest{Channel: "methods", Data: 4, IdempotencyKey: "four"}),
		apiclient.HistoryCommand(apiclient.HistoryRequest{Channel: "methods"}),
		apiclient.PresenceStatsCommand("methods"),
		apiclient.RawCommand("nope", nil),
		apiclient.PresenceCommand("methods"),
		apiclient.ChannelsCommand("*"),
		apiclient.InfoCommand(),
		apiclient.RemoveHistoryCommand("methods-b"),
		apiclient.UnsubscribeCommand("methods", "bob"),
		apiclient.DisconnectCommand("bob", true),
	)
	if err != nil || len(replies) != 11 {
		t.Fatalf("Batch = %+v, %v", replies, err)
	}
	var b1, b2 apiclient.PublishResult
	if err := replies[0].Decode(&b1); err != nil || b1.Offset != 4 {
		t.Fatalf("batch publish = %+v, %v", b1, err)
	}
	if err := replies[1].Decode(&b2); err != nil || b2 != b1 {
		t.Fatalf("batch repeat = %+v, %v; want %+v", b2, err, b1)
	}
	var bh apiclient.HistoryResult
	if err := replies[2].Decode(&bh); err != nil || len(bh.Publications) != 1 {
		t.Fatalf("batch history = %+v, %v", bh, err)
	}
	var e *apiclient.Error
	if err := replies[4].Decode(&struct{}{}); !errors.As(err, &e) || e.Code != apiclient.CodeUnknownMethod || e.Status != 200 {
		t.Fatalf("batch unknown method = %v", err)
	}
	for i, r := range replies[5:] {
		if r.Error != nil {
			t.Errorf("batch command %d: %v", 5+i, r.Error)
		}
	}
	var bn struct{ Nodes []apiclient.NodeInfo }
	if err := replies[7].Decode(&bn); err != nil || len(bn.Nodes) != 1 {
		t.Fatalf("batch info = %+v, %v", bn, err)
	}
}

// TestErrors checks that failures come back as *Error with the code and
// the HTTP status, and that bad input is refused before sending.
func TestErrors(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	tests := []struct {
		name   string
		call   func(c *apiclient.Client) error
		key    string
		code   int
		status int
	}{
		{"bad api key", func(c *apiclient.Client) error {
			_, err := c.Publish(ctx, apiclient.PublishRequest{Channel: "x", Data: 1})
			return err
		}, "wrong", apiclient.CodeUnauthorized, 401},
		{"unknown namespace", func(c *apiclient.Client) error {
			_, err := c.Publish(ctx, apiclient.PublishRequest{Channel: "nope:x", Data: 1})
			return err
		}, apiKey, apiclient.CodeUnknownChannel, 200},
		{"missing channel", func(c *apiclient.Client) error {
			_, err := c.History(ctx, apiclient.HistoryRequest{})
			return err
		}, apiKey, apiclient.CodeBadRequest, 200},
		{"idempotency key too long", func(c *apiclient.Client) error {
			_, err := c.Publish(ctx, apiclient.PublishRequest{Channel: "x", Data: 1, IdempotencyKey: strings.Repeat("k", 129)})
			return err
		}, apiKey, apiclient.CodeBadRequest, 0},
		{"missing user", func(c *apiclient.Client) error {
			return c.Disconnect(ctx, "", false)
		}, apiKey, apiclient.CodeBadRequest, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := apiclient.New(rotorURL, tt.key, apiclient.Options{})
			if err != nil {
				t.Fatal(err)
			}
			err = tt.call(c)
			var e *apiclient.Error
			if !errors.As(err, &e) || e.Code != tt.code || e.Status != tt.status {
				t.Fatalf("error = %#v, want code %d status %d", err, tt.code, tt.status)
			}
			if e.Temporary() {
				t.Fatalf("%v is temporary", e)
			}
		})
	}
	if _, err := apiclient.New("ftp://x", apiKey, apiclient.Options{}); err == nil {
		t.Fatal("New accepted an ftp URL")
	}
	if _, err := apiclient.New(rotorURL, "", apiclient.Options{}); err == nil {
		t.Fatal("New accepted an empty key")
	}
}

// TestAdminKeyProject checks that Options.Project is sent with every call,
// which the global admin key needs.
func TestAdminKeyProject(t *testing.T) {
	t.Parallel()
	c, err := apiclient.New(rotorURL, "admin-key", apiclient.Options{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(t.Context(), apiclient.PublishRequest{Channel: "admin", Data: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Info(t.Context()); err != nil {
		t.Fatal(err)
	}
	c, _ = apiclient.New(rotorURL, "admin-key", apiclient.Options{})
	var e *apiclient.Error
	if _, err := c.Info(t.Context()); !errors.As(err, &e) || e.Status != 400 {
		t.Fatalf("admin key without project: %v", err)
	}
}

// TestRetries puts a faulty front between the client and a real server
// and checks which failures are retried, how often, and that a retried
// publish lands once.
func TestRetries(t *testing.T) {
	t.Parallel()
	fast := apiclient.Options{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, AttemptTimeout: 300 * time.Millisecond}
	tests := []struct {
		name     string
		faults   []fault
		call     string // publish, history, unsubscribe, batch
		wantErr  int    // 0: success, else the code
		requests int
		history  int // publications in the channel afterwards
	}{
		{"publish applied, answer lost", []fault{unavailable, unavailable}, "publish", 0, 3, 1},
		{"publish through a proxy's 502 and a hang", []fault{badGateway, hang}, "publish", 0, 3, 1},
		{"publish gives up after MaxAttempts", []fault{unavailable, unavailable, unavailable, unavailable, unavailable}, "publish", apiclient.CodeUnavailable, 4, 1},
		{"publish not retried on 400", []fault{badRequest}, "publish", apiclient.CodeBadRequest, 1, 0},
		{"batch of publishes retried", []fault{unavailable}, "batch", 0, 2, 1},
		{"batch with a 112 reply retried", []fault{partial, partial}, "batch", 0, 3, 1},
		{"history retried", []fault{badGateway}, "history", 0, 2, 0},
		{"batch with an unsubscribe not retried", []fault{unavailable}, "batch-unsub", apiclient.CodeUnavailable, 1, 1},
		{"unsubscribe not retried", []fault{badGateway}, "unsubscribe", apiclient.CodeUnavailable, 1, 0},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			front := startFaultyFront(t, rotorURL, tt.faults...)
			c := newClient(t, front.srv.URL, fast)
			direct := newClient(t, rotorURL, apiclient.Options{})
			ch := "retry" + string(rune('a'+i))
			var err error
			switch tt.call {
			case "publish":
				_, err = c.Publish(t.Context(), apiclient.PublishRequest{Channel: ch, Data: 1})
			case "batch":
				var r []apiclient.Reply
				r, err = c.Batch(t.Context(), apiclient.PublishCommand(apiclient.PublishRequest{Channel: ch, Data: 1}))
				if err == nil && r[0].Error != nil {
					err = r[0].Error
				}
			case "batch-unsub":
				_, err = c.Batch(t.Context(),
					apiclient.PublishCommand(apiclient.PublishRequest{Channel: ch, Data: 1}),
					apiclient.UnsubscribeCommand(ch, "u"))
			case "history":
				_, err = c.History(t.Context(), apiclient.HistoryRequest{Channel: ch})
			case "unsubscribe":
				err = c.Unsubscribe(t.Context(), ch, "u")
			}
			var e *apiclient.Error
			switch {
			case tt.wantErr == 0 && err != nil:
				t.Fatalf("error %v, want success", err)
			case tt.wantErr != 0 && (!errors.As(err, &e) || e.Code != tt.wantErr):
				t.Fatalf("error %v, want code %d", err, tt.wantErr)
			}
			if n := front.count(); n != tt.requests {
				t.Errorf("%d requests, want %d", n, tt.requests)
			}
			h, err := direct.History(t.Context(), apiclient.HistoryRequest{Channel: ch})
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Publications) != tt.history {
				t.Errorf("%d publications in history, want %d", len(h.Publications), tt.history)
			}
		})
	}
}

// TestRetryStopsWithContext checks that a cancelled context ends the
// retries at once.
func TestRetryStopsWithContext(t *testing.T) {
	t.Parallel()
	front := startFaultyFront(t, rotorURL, unavailable, unavailable, unavailable)
	c := newClient(t, front.srv.URL, apiclient.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Publish(ctx, apiclient.PublishRequest{Channel: "ctx", Data: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the context's deadline", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v after the context ended", d)
	}
	if n := front.count(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}
