package apiclient_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/transport/apiclient"
)

// TestVerifyWebhook has a real server call a real events hook, which
// verifies each call with VerifyWebhook; a tampered body, a wrong secret
// and a missing header are refused.
func TestVerifyWebhook(t *testing.T) {
	t.Parallel()
	type call struct {
		body   []byte
		header http.Header
		err    error
	}
	calls := make(chan call, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		body, err := apiclient.VerifyWebhook(r, []byte(secret))
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
		}
		calls <- call{body: body, header: h, err: err}
	}))
	t.Cleanup(hook.Close)
	url := startRotorT(t, hook.URL)
	c := newClient(t, url, apiclient.Options{})
	if _, err := c.Publish(t.Context(), apiclient.PublishRequest{Channel: "hooked", Data: map[string]string{"hello": "hook"}}); err != nil {
		t.Fatal(err)
	}
	var got call
	select {
	case got = <-calls:
	case <-time.After(10 * time.Second):
		t.Fatal("no events hook call")
	}
	if got.err != nil {
		t.Fatalf("VerifyWebhook refused Rotor's own call: %v", got.err)
	}
	var events struct {
		Events []struct {
			Type    string `json:"type"`
			Channel string `json:"channel"`
		} `json:"events"`
	}
	if err := json.Unmarshal(got.body, &events); err != nil || len(events.Events) == 0 || events.Events[0].Channel != "hooked" {
		t.Fatalf("events = %s, %v", got.body, err)
	}

	tests := []struct {
		name   string
		secret string
		body   []byte
		header http.Header
	}{
		{"tampered body", secret, bytes.Replace(got.body, []byte("hook"), []byte("hack"), 1), got.header},
		{"wrong secret", strings.Repeat("x", 40), got.body, got.header},
		{"no signature", secret, got.body, http.Header{}},
		{"not hex", secret, got.body, http.Header{apiclient.SignatureHeader: {"sha256=zz"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := apiclient.VerifySignature([]byte(tt.secret), tt.body, tt.header); !errors.Is(err, apiclient.ErrBadSignature) {
				t.Fatalf("VerifySignature = %v, want ErrBadSignature", err)
			}
		})
	}
	if err := apiclient.VerifySignature([]byte(secret), got.body, got.header); err != nil {
		t.Fatalf("VerifySignature of the original call: %v", err)
	}
}

// TestTokens mints tokens and has a real server accept them: a
// connection token at connect, and its channels claim subscribed.
func TestTokens(t *testing.T) {
	t.Parallel()
	tok, err := apiclient.ConnectionToken([]byte(secret), apiclient.ConnectionClaims{
		User: "alice", Expires: time.Now().Add(time.Hour), Channels: []string{"news"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(rotorURL+"/connection/"+project+"/connect", "application/json", strings.NewReader(`{"token":"`+tok+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var conn struct {
		User string
		Subs map[string]struct{ Error *apiclient.Error }
	}
	if err := json.NewDecoder(resp.Body).Decode(&conn); err != nil || resp.StatusCode != 200 {
		t.Fatalf("connect: HTTP %d, %v", resp.StatusCode, err)
	}
	if conn.User != "alice" || len(conn.Subs) != 1 || conn.Subs["news"].Error != nil {
		t.Fatalf("connect = %+v", conn)
	}
	if _, err := apiclient.ConnectionToken([]byte(secret), apiclient.ConnectionClaims{}); err == nil {
		t.Fatal("minted a connection token without a user")
	}
	sub, err := apiclient.SubscriptionToken([]byte(secret), apiclient.SubscriptionClaims{User: "alice", Channel: "$secret"})
	if err != nil || strings.Count(sub, ".") != 2 {
		t.Fatalf("SubscriptionToken = %q, %v", sub, err)
	}
}
