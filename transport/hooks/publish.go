package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/rotor-rt/rotor/pubsub/node"
)

// PublishHook, PublishHookRequest and PublishHookResult are declared by
// the runtime, which uses them; HTTPPublishHook implements the interface
// over HTTP.
type (
	PublishHook        = node.PublishHook
	PublishHookRequest = node.PublishHookRequest
	PublishHookResult  = node.PublishHookResult
)

// HTTPPublishHook is the PublishHook that POSTs to publish_hook_url.
type HTTPPublishHook struct {
	// Client makes the call; nil means NewHTTPClient(0).
	Client *http.Client
}

var _ PublishHook = (*HTTPPublishHook)(nil)

type publishCall struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	Client  string          `json:"client"`
	User    string          `json:"user"`
}

type publishAnswer struct {
	Data   json.RawMessage `json:"data"`
	Cancel bool            `json:"cancel"`
	Reason string          `json:"reason"`
}

// BeforePublish POSTs {channel, data, client, user} and reads {} (pass),
// {"data": ...} (replace) or {"cancel": true, "reason": "..."} (cancel).
// An empty 2xx body passes too; "data": null leaves the data unchanged, as
// many encoders write null for an unset field. A timeout, an error status or
// an answer that is not a JSON object is an error.
func (h *HTTPPublishHook) BeforePublish(ctx context.Context, req PublishHookRequest) (PublishHookResult, error) {
	body, err := postJSON(ctx, clientOrDefault(h.Client), req.URL, req.Secret, publishCall{
		Channel: req.Channel, Data: req.Data, Client: req.Client, User: req.User,
	})
	if err != nil {
		return PublishHookResult{}, fmt.Errorf("publish hook: %w", err)
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return PublishHookResult{}, nil
	}
	var ans publishAnswer
	if body[0] != '{' {
		return PublishHookResult{}, fmt.Errorf("publish hook: answer is not a JSON object")
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return PublishHookResult{}, fmt.Errorf("publish hook: malformed answer: %w", err)
	}
	if ans.Cancel {
		return PublishHookResult{Cancel: true, Reason: ans.Reason}, nil
	}
	if bytes.Equal(ans.Data, []byte("null")) {
		ans.Data = nil
	}
	return PublishHookResult{Data: ans.Data}, nil
}
