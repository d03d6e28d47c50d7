package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/transport/auth"
)

// Authorizer, AuthRequest and AuthResult are declared by the runtime,
// which uses them; HTTPAuthorizer implements the interface over HTTP.
type (
	Authorizer  = node.Authorizer
	AuthRequest = node.AuthRequest
	AuthResult  = node.AuthResult
)

// HTTPAuthorizer is the Authorizer that POSTs to auth_url.
type HTTPAuthorizer struct {
	// Client makes the call; nil means NewHTTPClient(0).
	Client *http.Client
}

var _ Authorizer = (*HTTPAuthorizer)(nil)

type authCall struct {
	Client   string   `json:"client"`
	User     string   `json:"user"`
	Channels []string `json:"channels"`
}

type authAnswer struct {
	Channels map[string]struct {
		Allow bool            `json:"allow"`
		Info  json.RawMessage `json:"info"`
	} `json:"channels"`
}

// Authorize makes one call for all of req's channels, however many: the
// batched call of docs/protocol.md (Private channels). A timeout, a transport error, a non-2xx status
// or an answer that is not the expected JSON denies every channel; a
// channel missing from the answer, or with info that is not an object of at
// most auth.MaxGrantChanInfo bytes (it must fit in a grant), is denied.
func (a *HTTPAuthorizer) Authorize(ctx context.Context, req AuthRequest) (map[string]AuthResult, error) {
	out := make(map[string]AuthResult, len(req.Channels))
	channels := make([]string, 0, len(req.Channels))
	for _, ch := range req.Channels {
		if _, dup := out[ch]; !dup {
			out[ch] = AuthResult{}
			channels = append(channels, ch)
		}
	}
	if len(channels) == 0 {
		return out, nil
	}
	if req.URL == "" {
		return out, errors.New("authorize: the project has no auth_url")
	}
	body, err := postJSON(ctx, clientOrDefault(a.Client), req.URL, req.Secret,
		authCall{Client: req.Client, User: req.User, Channels: channels})
	if err != nil {
		return out, fmt.Errorf("authorize: %w", err)
	}
	var ans authAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return out, fmt.Errorf("authorize: malformed answer: %w", err)
	}
	var problems []string
	for _, ch := range channels {
		r, ok := ans.Channels[ch]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%q missing from the answer", ch))
		case !r.Allow:
		case !isObjectOrNull(r.Info):
			problems = append(problems, fmt.Sprintf("%q: info is not an object", ch))
		case len(r.Info) > auth.MaxGrantChanInfo:
			problems = append(problems, fmt.Sprintf("%q: info longer than %d bytes", ch, auth.MaxGrantChanInfo))
		default:
			info := r.Info
			if bytes.Equal(info, []byte("null")) {
				info = nil
			}
			out[ch] = AuthResult{Allow: true, Info: info}
		}
	}
	if problems != nil {
		return out, fmt.Errorf("authorize: denied %s", strings.Join(problems, ", "))
	}
	return out, nil
}

// isObjectOrNull reports whether raw (already valid JSON) is absent, null
// or an object.
func isObjectOrNull(raw json.RawMessage) bool {
	return len(raw) == 0 || raw[0] == '{' || bytes.Equal(raw, []byte("null"))
}
