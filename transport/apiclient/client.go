package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Defaults for Options' zero values.
const (
	DefaultMaxAttempts    = 4
	DefaultMinBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff     = 2 * time.Second
	DefaultAttemptTimeout = 10 * time.Second
)

// maxReply bounds a reply body; history answers are the largest.
const maxReply = 64 << 20

// Options configures a Client. Zero values take the defaults named.
type Options struct {
	// Project is sent as "project" with every call: required with the
	// global admin key, optional (and checked) with a project key.
	Project string
	// HTTPClient makes the requests; nil means a client of its own with
	// keep-alive connections. Its Timeout, if any, bounds every attempt.
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts of a retryable call, the first one
	// included; 0 means 4, and 1 turns retries off.
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait before a retry: full
	// jitter over MinBackoff·2ⁿ, capped at MaxBackoff; 0 means 100ms
	// and 2s.
	MinBackoff, MaxBackoff time.Duration
	// AttemptTimeout bounds one attempt, so that a hung request is
	// retried rather than waited for; 0 means 10s.
	AttemptTimeout time.Duration
}

// Client calls one Rotor server's API with one API key. It is safe for
// concurrent use.
type Client struct {
	base string // URL + "/api/"
	auth string // "apikey <key>"
	opts Options
	hc   *http.Client
}

// New returns a client for the server at baseURL (scheme, host and any
// path prefix, e.g. "https://rt.example.com") authenticating with apiKey.
func New(baseURL, apiKey string, opts Options) (*Client, error) {
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return nil, fmt.Errorf("apiclient: base URL %q must start with http:// or https://", baseURL)
	}
	if apiKey == "" {
		return nil, errors.New("apiclient: empty API key")
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.AttemptTimeout <= 0 {
		opts.AttemptTimeout = DefaultAttemptTimeout
	}
	hc := opts.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		hc = &http.Client{Transport: tr}
	}
	return &Client{
		base: strings.TrimRight(baseURL, "/") + "/api/",
		auth: "apikey " + apiKey,
		opts: opts,
		hc:   hc,
	}, nil
}

// CloseIdleConnections closes the client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// replyBufs recycles reply buffers: a busy publisher (rotor bench) would
// otherwise grow a new one per call.
var replyBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putReplyBuf returns buf to the pool unless a large reply (a long
// history) grew it.
func putReplyBuf(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		replyBufs.Put(buf)
	}
}

// reply is the envelope of every answer. Result points at the caller's
// value, so a result is decoded once, straight into its type.
type reply struct {
	Result any    `json:"result"`
	Error  *Error `json:"error"`
}

// call runs method with params (any value encoding as a JSON object) and
// decodes the result into out (nil to drop it). retry says whether the
// call may be repeated: the caller guarantees a repeat changes nothing.
func (c *Client) call(ctx context.Context, method string, params any, retry bool, out any) error {
	body, err := c.encode(params)
	if err != nil {
		return fmt.Errorf("apiclient %s: encode: %w", method, err)
	}
	return c.do(ctx, method, body, retry, out, nil)
}

// encode marshals params and adds "project" when the client has one.
func (c *Client) encode(params any) ([]byte, error) {
	body, err := json.Marshal(params)
	if err != nil {
		return nil, err
	}
	if c.opts.Project == "" {
		return body, nil
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("params are not a JSON object: %.40s", body)
	}
	p, _ := json.Marshal(c.opts.Project)
	out := make([]byte, 0, len(body)+len(p)+12)
	out = append(out, `{"project":`...)
	out = append(out, p...)
	if len(body) > 2 {
		out = append(out, ',')
	}
	return append(out, body[1:]...), nil
}

// do POSTs body to method and decodes the result into out (nil to drop
// it), retrying when retry is set and the failure is one a repeat may
// cure (see Error.Temporary). again, when not nil, inspects a decoded
// result and says whether it still holds temporary failures worth a retry
// (a batch or broadcast with some 112s).
func (c *Client) do(ctx context.Context, method string, body []byte, retry bool, out any, again func() bool) error {
	attempts := 1
	if retry {
		attempts = c.opts.MaxAttempts
	}
	if out == nil {
		out = new(json.RawMessage)
	}
	var last error
	for i := range attempts {
		if i > 0 {
			if err := sleep(ctx, c.backoff(i)); err != nil {
				return fmt.Errorf("apiclient %s: %w (last attempt: %w)", method, err, last)
			}
		}
		last = c.attempt(ctx, method, body, out)
		if last == nil {
			if again == nil || i == attempts-1 || !again() {
				return nil
			}
			continue
		}
		if ctx.Err() != nil || !temporary(last) {
			break
		}
	}
	return last
}

// attempt is one request.
func (c *Client) attempt(ctx context.Context, method string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+method, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("apiclient %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.auth)
	resp, err := c.hc.Do(req)
	if err != nil {
		return &transportError{method: method, err: err}
	}
	defer func() { _ = resp.Body.Close() }()
	buf := replyBufs.Get().(*bytes.Buffer)
	defer putReplyBuf(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxReply+1)); err != nil {
		return &transportError{method: method, err: fmt.Errorf("read reply: %w", err)}
	}
	// Unmarshal copies what it keeps (Result is a json.RawMessage), so
	// the buffer can go back to the pool.
	b := buf.Bytes()
	if len(b) > maxReply {
		return fmt.Errorf("apiclient %s: reply longer than %d bytes", method, maxReply)
	}
	r := reply{Result: out}
	err = json.Unmarshal(b, &r)
	switch {
	case err == nil && r.Error != nil:
		r.Error.Status = resp.StatusCode
		return r.Error
	case err == nil && bytes.HasPrefix(b, resultPrefix):
		return nil
	case resp.StatusCode == http.StatusOK && err != nil && bytes.HasPrefix(b, resultPrefix):
		return fmt.Errorf("apiclient %s: decode result: %w", method, err)
	}
	// Not Rotor's envelope: a proxy's error page, say.
	return &Error{Code: codeOfStatus(resp.StatusCode), Message: fmt.Sprintf("HTTP %d: %.200s", resp.StatusCode, bytes.TrimSpace(b)), Status: resp.StatusCode}
}

// resultPrefix starts every successful answer: the server encodes its
// envelope with result first and without spaces.
var resultPrefix = []byte(`{"result":`)
