package hooks

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAuthorize(t *testing.T) {
	t.Parallel()
	channels := []string{"ns:$a", "$b", "$c", "ns:$d", "$e"}
	tests := []struct {
		name    string
		answer  func(http.ResponseWriter, *http.Request, int, []byte)
		allowed []string
		info    map[string]string
		wantErr bool
	}{
		{
			name: "mixed",
			answer: reply(`{"channels":{"ns:$a":{"allow":true,"info":{"role":"mod"}},"$b":{"allow":false},` +
				`"$c":{"allow":true},"ns:$d":{"allow":true,"info":null},"$e":{"allow":false},"$other":{"allow":true}}}`),
			allowed: []string{"ns:$a", "$c", "ns:$d"},
			info:    map[string]string{"ns:$a": `{"role":"mod"}`},
		},
		{
			name:    "missing channel denied",
			answer:  reply(`{"channels":{"ns:$a":{"allow":true},"$b":{"allow":true}}}`),
			allowed: []string{"ns:$a", "$b"},
			wantErr: true,
		},
		{
			name:    "info not an object denied",
			answer:  reply(`{"channels":{"ns:$a":{"allow":true,"info":"x"},"$b":{"allow":true},"$c":{"allow":true},"ns:$d":{"allow":true},"$e":{"allow":true}}}`),
			allowed: []string{"$b", "$c", "ns:$d", "$e"},
			wantErr: true,
		},
		{
			name: "info too big for a grant denied",
			answer: reply(`{"channels":{"ns:$a":{"allow":true,"info":{"x":"` + strings.Repeat("a", 2000) + `"}},` +
				`"$b":{"allow":true},"$c":{"allow":true},"ns:$d":{"allow":true},"$e":{"allow":true}}}`),
			allowed: []string{"$b", "$c", "ns:$d", "$e"},
			wantErr: true,
		},
		{name: "500 denied", answer: func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) {
			http.Error(w, `{"channels":{"$b":{"allow":true}}}`, http.StatusInternalServerError)
		}, wantErr: true},
		{name: "redirect denied", answer: func(w http.ResponseWriter, r *http.Request, _ int, _ []byte) {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}, wantErr: true},
		{name: "garbage denied", answer: reply(`<html>oops</html>`), wantErr: true},
		{name: "truncated JSON denied", answer: reply(`{"channels":{"$b":{"allow":true}`), wantErr: true},
		{name: "wrong shape denied", answer: reply(`{"channels":["$b"]}`), wantErr: true},
		{name: "allow not a bool denied", answer: reply(`{"channels":{"$b":{"allow":"yes"}}}`), wantErr: true},
		{name: "empty answer denied", answer: reply(``), wantErr: true},
		{name: "everything denied", answer: reply(`{"channels":{}}`), wantErr: true},
		{name: "huge answer denied", answer: reply(`{"channels":{},"pad":"` + strings.Repeat("x", MaxResponseSize) + `"}`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newHookServer(t, tt.answer)
			a := &HTTPAuthorizer{Client: NewHTTPClient(5 * time.Second)}
			got, err := a.Authorize(t.Context(), AuthRequest{
				URL: srv.URL, Secret: testSecret, Client: "c1", User: "42", Channels: channels,
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			calls := srv.recorded()
			if len(calls) != 1 {
				t.Fatalf("%d calls to auth_url, want exactly 1", len(calls))
			}
			var sent struct {
				Client, User string
				Channels     []string
			}
			if err := json.Unmarshal(calls[0].body, &sent); err != nil {
				t.Fatal(err)
			}
			if sent.Client != "c1" || sent.User != "42" || !slices.Equal(sent.Channels, channels) {
				t.Fatalf("sent %s", calls[0].body)
			}
			srv.checkSigned(t)
			if len(got) != len(channels) {
				t.Fatalf("%d results for %d channels: %v", len(got), len(channels), got)
			}
			for _, ch := range channels {
				r, ok := got[ch]
				if !ok {
					t.Fatalf("no result for %q", ch)
				}
				if want := slices.Contains(tt.allowed, ch); r.Allow != want {
					t.Errorf("%q: allow %v, want %v", ch, r.Allow, want)
				}
				if string(r.Info) != tt.info[ch] {
					t.Errorf("%q: info %s, want %s", ch, r.Info, tt.info[ch])
				}
			}
		})
	}
}

// TestAuthorizeTimeout: a server slower than the timeout denies every
// channel, and the call returns long before the server would answer.
func TestAuthorizeTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := newHookServer(t, func(w http.ResponseWriter, r *http.Request, _ int, _ []byte) {
		select {
		case <-release:
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		_, _ = w.Write([]byte(`{"channels":{"$a":{"allow":true}}}`))
	})
	defer close(release)
	a := &HTTPAuthorizer{Client: NewHTTPClient(100 * time.Millisecond)}
	start := time.Now()
	got, err := a.Authorize(t.Context(), AuthRequest{URL: srv.URL, Secret: testSecret, Client: "c", Channels: []string{"$a"}})
	if err == nil || got["$a"].Allow {
		t.Fatalf("allowed after a timeout: %v, %v", got, err)
	}
	// Generous bound: this checks the timeout applies, not its precision.
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("took %v", elapsed)
	}
}

func TestAuthorizeNoCall(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, reply(`{"channels":{"$a":{"allow":true}}}`))
	a := &HTTPAuthorizer{}
	got, err := a.Authorize(t.Context(), AuthRequest{URL: srv.URL, Secret: testSecret})
	if err != nil || len(got) != 0 {
		t.Fatalf("no channels: %v, %v", got, err)
	}
	got, err = a.Authorize(t.Context(), AuthRequest{Secret: testSecret, Channels: []string{"$a"}})
	if err == nil || got["$a"].Allow || len(got) != 1 {
		t.Fatalf("no url: %v, %v", got, err)
	}
	// Duplicates are asked about once.
	got, err = a.Authorize(t.Context(), AuthRequest{URL: srv.URL, Secret: testSecret, Channels: []string{"$a", "$a"}})
	if err != nil || !got["$a"].Allow {
		t.Fatalf("duplicates: %v, %v", got, err)
	}
	if calls := srv.recorded(); len(calls) != 1 || !strings.Contains(string(calls[0].body), `"channels":["$a"]`) {
		t.Fatalf("calls %v", calls)
	}
}

func TestAuthorizeUnreachable(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, reply(`{}`))
	srv.Close()
	got, err := (&HTTPAuthorizer{}).Authorize(t.Context(), AuthRequest{URL: srv.URL, Secret: testSecret, Channels: []string{"$a", "$b"}})
	if err == nil || got["$a"].Allow || got["$b"].Allow || len(got) != 2 {
		t.Fatalf("%v, %v", got, err)
	}
}
