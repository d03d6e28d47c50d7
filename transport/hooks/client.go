package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/rotor-rt/rotor/transport/auth"
)

// DefaultTimeout bounds a whole hook call when hooks.timeout is not set.
const DefaultTimeout = 3 * time.Second

// MaxResponseSize is the most read from a hook's answer, in bytes; a longer
// answer is an error.
const MaxResponseSize = 1 << 20

// NewHTTPClient returns the client hooks use: timeout bounds each call (0
// means DefaultTimeout) and redirects are not followed, because a POST
// redirected becomes a GET and a hook URL that moves is a misconfiguration
// to surface, not to guess around.
func NewHTTPClient(timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

var defaultClient = NewHTTPClient(0)

// clientOrDefault returns c, or a client with DefaultTimeout when c is nil.
func clientOrDefault(c *http.Client) *http.Client {
	if c == nil {
		return defaultClient
	}
	return c
}

// postJSON POSTs v as signed JSON to url and returns the 2xx answer's
// body. Any other status is an error. The signature covers
// "<X-Rotor-Timestamp>.<body>" (docs/security.md, Hook and auth_url
// signatures).
func postJSON(ctx context.Context, c *http.Client, url string, secret []byte, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode hook request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("hook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "rotor")
	// Signed at each attempt, so a retried events batch carries a fresh
	// timestamp and verifiers can keep their tolerance short.
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req.Header.Set(auth.TimestampHeader, ts)
	req.Header.Set(auth.SignatureHeader, auth.SignTimestamped(secret, ts, body))
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("hook call: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("hook answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("hook answered %s", resp.Status)
	}
	if len(answer) > MaxResponseSize {
		return nil, fmt.Errorf("hook answer longer than %d bytes", MaxResponseSize)
	}
	return answer, nil
}
