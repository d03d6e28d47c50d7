package apiclient

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/rotor-rt/rotor/pubsub"
)

// MaxIdempotencyKey is the longest idempotency key the server accepts, in
// bytes.
const MaxIdempotencyKey = pubsub.MaxIdempotencyKey

// Position is a place in a channel's stream.
type Position struct {
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
}

// ClientInfo describes a connected client.
type ClientInfo struct {
	Client   string          `json:"client,omitempty"`
	User     string          `json:"user"`
	Info     json.RawMessage `json:"info,omitempty"`
	ChanInfo json.RawMessage `json:"chan_info,omitempty"`
}

// Publication is one message of a channel's history.
type Publication struct {
	Channel string          `json:"channel"`
	Offset  uint64          `json:"offset"`
	Data    json.RawMessage `json:"data"`
	Info    *ClientInfo     `json:"info,omitempty"`
}

// PublishRequest is the parameters of Publish.
type PublishRequest struct {
	Channel string `json:"channel"`
	// Data is any value that encodes as JSON; a json.RawMessage is sent
	// as it is.
	Data any `json:"data"`
	// IdempotencyKey names this publication (1 to 128 bytes): a repeat
	// with it within the server's window publishes nothing and answers
	// the first result. "" makes the client generate one per call.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// PublishResult is where a publication landed.
type PublishResult = Position

// Publish publishes to a channel, retrying temporary failures with the
// request's idempotency key.
func (c *Client) Publish(ctx context.Context, req PublishRequest) (PublishResult, error) {
	if err := c.withKey(&req.IdempotencyKey); err != nil {
		return PublishResult{}, err
	}
	var out PublishResult
	body, err := c.publishBody(req)
	if err != nil {
		return out, fmt.Errorf("apiclient publish: encode: %w", err)
	}
	return out, c.do(ctx, "publish", body, true, &out, nil)
}

// publishBody encodes req; data given as json.RawMessage is copied in
// as it is (the server checks it), which keeps a publisher that sends
// pre-encoded data, as `rotor bench` does, from encoding it twice.
func (c *Client) publishBody(req PublishRequest) ([]byte, error) {
	raw, ok := req.Data.(json.RawMessage)
	if !ok || len(raw) == 0 {
		return c.encode(req)
	}
	b := make([]byte, 0, len(raw)+len(req.Channel)+len(c.opts.Project)+len(req.IdempotencyKey)+64)
	b = append(b, '{')
	if c.opts.Project != "" {
		b = append(b, `"project":`...)
		b = appendString(b, c.opts.Project)
		b = append(b, ',')
	}
	b = append(b, `"channel":`...)
	b = appendString(b, req.Channel)
	b = append(b, `,"data":`...)
	b = append(b, raw...)
	if req.IdempotencyKey != "" {
		b = append(b, `,"idempotency_key":`...)
		b = appendString(b, req.IdempotencyKey)
	}
	return append(b, '}'), nil
}

// appendString appends s as a JSON string: printable ASCII without quotes
// or backslashes as it is, anything else through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// BroadcastRequest is the parameters of Broadcast.
type BroadcastRequest struct {
	Channels []string `json:"channels"`
	Data     any      `json:"data"`
	// IdempotencyKey is per channel: a repeat publishes only to the
	// channels an earlier attempt missed. "" makes the client generate
	// one per call.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// BroadcastItem is one channel's outcome: a position, or an error.
type BroadcastItem struct {
	Channel string `json:"channel"`
	Position
	Error *Error `json:"error,omitempty"`
}

// BroadcastResult has one item per channel, in the request's order.
type BroadcastResult struct {
	Results []BroadcastItem `json:"results"`
}

// Broadcast publishes the same data to several channels. It retries the
// whole broadcast while some channel failed temporarily; the key keeps
// the channels that succeeded from getting it twice.
func (c *Client) Broadcast(ctx context.Context, req BroadcastRequest) (BroadcastResult, error) {
	if err := c.withKey(&req.IdempotencyKey); err != nil {
		return BroadcastResult{}, err
	}
	body, err := c.encode(req)
	if err != nil {
		return BroadcastResult{}, fmt.Errorf("apiclient broadcast: encode: %w", err)
	}
	var out BroadcastResult
	err = c.do(ctx, "broadcast", body, true, &out, func() bool {
		for _, it := range out.Results {
			if it.Error != nil && it.Error.Temporary() {
				out = BroadcastResult{} // decode the retry afresh
				return true
			}
		}
		return false
	})
	if err != nil {
		return out, err
	}
	for i := range out.Results {
		if e := out.Results[i].Error; e != nil {
			e.Status = 200
		}
	}
	return out, nil
}

// HistoryRequest is the parameters of History.
type HistoryRequest struct {
	Channel string `json:"channel"`
	// Limit is how many publications to return; nil means all kept, 0
	// none (only the position).
	Limit *int `json:"limit,omitempty"`
	// Since returns publications after (or, with Reverse, before) this
	// position.
	Since   *Position `json:"since,omitempty"`
	Reverse bool      `json:"reverse,omitempty"`
}

// HistoryResult is a slice of history and the channel's current position.
type HistoryResult struct {
	Publications []Publication `json:"publications"`
	Position
}

// History reads a channel's history.
func (c *Client) History(ctx context.Context, req HistoryRequest) (HistoryResult, error) {
	var out HistoryResult
	return out, c.call(ctx, "history", req, true, &out)
}

type channelParams struct {
	Channel string `json:"channel"`
}

// RemoveHistory drops a channel's publications; its position stays.
func (c *Client) RemoveHistory(ctx context.Context, channel string) error {
	return c.call(ctx, "history_remove", channelParams{channel}, true, nil)
}

// Presence returns the clients present in a channel, by client id.
func (c *Client) Presence(ctx context.Context, channel string) (map[string]ClientInfo, error) {
	var out struct {
		Clients map[string]ClientInfo `json:"clients"`
	}
	return out.Clients, c.call(ctx, "presence", channelParams{channel}, true, &out)
}

// PresenceStats counts a channel's present clients and distinct users.
type PresenceStats struct {
	Clients int `json:"clients"`
	Users   int `json:"users"`
}

// PresenceStats returns a channel's presence counts.
func (c *Client) PresenceStats(ctx context.Context, channel string) (PresenceStats, error) {
	var out PresenceStats
	return out, c.call(ctx, "presence_stats", channelParams{channel}, true, &out)
}

// ChannelInfo is one active channel.
type ChannelInfo struct {
	Clients int `json:"clients"`
}

// Channels lists the project's active channels matching a glob pattern
// ("" for all), with their subscriber counts.
func (c *Client) Channels(ctx context.Context, pattern string) (map[string]ChannelInfo, error) {
	var out struct {
		Channels map[string]ChannelInfo `json:"channels"`
	}
	return out.Channels, c.call(ctx, "channels", patternParams{pattern}, true, &out)
}

type patternParams struct {
	Pattern string `json:"pattern,omitempty"`
}

type unsubscribeParams struct {
	Channel string `json:"channel"`
	User    string `json:"user"`
}

type disconnectParams struct {
	User      string `json:"user"`
	Reconnect bool   `json:"reconnect,omitempty"`
}

// NodeInfo describes one running node.
type NodeInfo struct {
	ID                 string  `json:"id"`
	Version            string  `json:"version"`
	Uptime             int64   `json:"uptime"`
	Clients            int     `json:"clients"`
	Subscriptions      int     `json:"subscriptions"`
	Channels           int     `json:"channels"`
	PublicationsPerSec float64 `json:"publications_per_s"`
}

// Info lists the running nodes.
func (c *Client) Info(ctx context.Context) ([]NodeInfo, error) {
	var out struct {
		Nodes []NodeInfo `json:"nodes"`
	}
	return out.Nodes, c.call(ctx, "info", struct{}{}, true, &out)
}

// Unsubscribe ends a user's subscription to a channel on every node and
// refuses the grants issued for it until now. It is not retried: a
// repeat would also refuse grants issued in between.
func (c *Client) Unsubscribe(ctx context.Context, channel, user string) error {
	return c.call(ctx, "unsubscribe", unsubscribeParams{channel, user}, false, nil)
}

// Disconnect ends a user's streams on every node. Without reconnect it
// also revokes every session issued until now; with it, clients may
// reconnect at once. It is not retried (see Unsubscribe).
func (c *Client) Disconnect(ctx context.Context, user string, reconnect bool) error {
	return c.call(ctx, "disconnect", disconnectParams{user, reconnect}, false, nil)
}

// withKey checks the caller's idempotency key, or makes one when the
// client retries (without retries a key has nothing to protect).
func (c *Client) withKey(key *string) error {
	if *key == "" {
		if c.opts.MaxAttempts > 1 {
			*key = NewIdempotencyKey()
		}
		return nil
	}
	if len(*key) > MaxIdempotencyKey {
		return &Error{Code: CodeBadRequest, Message: fmt.Sprintf("idempotency key is %d bytes, longer than %d", len(*key), MaxIdempotencyKey)}
	}
	return nil
}
