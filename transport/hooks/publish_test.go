package hooks

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

func TestBeforePublish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		answer  func(http.ResponseWriter, *http.Request, int, []byte)
		want    PublishHookResult
		wantErr bool
	}{
		{name: "pass", answer: reply(`{}`)},
		{name: "pass empty body", answer: func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) { w.WriteHeader(http.StatusNoContent) }},
		{name: "pass data null", answer: reply(`{"data":null}`)},
		{name: "replace", answer: reply(`{"data":{"text":"[censored]"}}`), want: PublishHookResult{Data: json.RawMessage(`{"text":"[censored]"}`)}},
		{name: "replace with a number", answer: reply(`{"data": 5}`), want: PublishHookResult{Data: json.RawMessage(`5`)}},
		{name: "cancel", answer: reply(`{"cancel":true,"reason":"spam"}`), want: PublishHookResult{Cancel: true, Reason: "spam"}},
		{name: "cancel wins over data", answer: reply(`{"cancel":true,"data":1}`), want: PublishHookResult{Cancel: true}},
		{name: "500", answer: func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) {
			http.Error(w, "{}", http.StatusInternalServerError)
		}, wantErr: true},
		{name: "404", answer: func(w http.ResponseWriter, r *http.Request, _ int, _ []byte) { http.NotFound(w, r) }, wantErr: true},
		{name: "garbage", answer: reply(`ok`), wantErr: true},
		{name: "array", answer: reply(`[]`), wantErr: true},
		{name: "truncated", answer: reply(`{"data":`), wantErr: true},
		{name: "cancel not a bool", answer: reply(`{"cancel":"yes"}`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := newHookServer(t, tt.answer)
			h := &HTTPPublishHook{Client: NewHTTPClient(5 * time.Second)}
			got, err := h.BeforePublish(t.Context(), PublishHookRequest{
				URL: srv.URL, Secret: testSecret, Channel: "chat:room", Data: json.RawMessage(`{"text":"hi"}`), Client: "c1", User: "42",
			})
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v, want error %v", err, tt.wantErr)
			}
			if string(got.Data) != string(tt.want.Data) || got.Cancel != tt.want.Cancel || got.Reason != tt.want.Reason {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			calls := srv.recorded()
			if len(calls) != 1 {
				t.Fatalf("%d calls", len(calls))
			}
			if want := `{"channel":"chat:room","data":{"text":"hi"},"client":"c1","user":"42"}`; string(calls[0].body) != want {
				t.Fatalf("sent %s, want %s", calls[0].body, want)
			}
			srv.checkSigned(t)
		})
	}
}

func TestBeforePublishTimeout(t *testing.T) {
	t.Parallel()
	srv := newHookServer(t, func(w http.ResponseWriter, r *http.Request, _ int, _ []byte) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		_, _ = w.Write([]byte(`{}`))
	})
	h := &HTTPPublishHook{Client: NewHTTPClient(100 * time.Millisecond)}
	start := time.Now()
	_, err := h.BeforePublish(t.Context(), PublishHookRequest{URL: srv.URL, Secret: testSecret, Channel: "a", Data: json.RawMessage(`1`)})
	if err == nil {
		t.Fatal("a timed-out hook passed the publication")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Fatalf("took %v", elapsed)
	}
}
