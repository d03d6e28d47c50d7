package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
)

// Command is one method call inside a Batch; make it with the
// constructors below.
type Command struct {
	method string
	params any
	// retry says a repeat changes nothing (with the key set in Batch for
	// publishes).
	retry bool
	// key is the publish's idempotency key field, set before sending.
	key *string
}

// PublishCommand is Publish inside a batch.
func PublishCommand(req PublishRequest) Command {
	return Command{method: "publish", params: &req, retry: true, key: &req.IdempotencyKey}
}

// BroadcastCommand is Broadcast inside a batch.
func BroadcastCommand(req BroadcastRequest) Command {
	return Command{method: "broadcast", params: &req, retry: true, key: &req.IdempotencyKey}
}

// HistoryCommand is History inside a batch.
func HistoryCommand(req HistoryRequest) Command {
	return Command{method: "history", params: req, retry: true}
}

// RemoveHistoryCommand is RemoveHistory inside a batch.
func RemoveHistoryCommand(channel string) Command {
	return Command{method: "history_remove", params: channelParams{channel}, retry: true}
}

// PresenceStatsCommand is PresenceStats inside a batch.
func PresenceStatsCommand(channel string) Command {
	return Command{method: "presence_stats", params: channelParams{channel}, retry: true}
}

// PresenceCommand is Presence inside a batch.
func PresenceCommand(channel string) Command {
	return Command{method: "presence", params: channelParams{channel}, retry: true}
}

// ChannelsCommand is Channels inside a batch.
func ChannelsCommand(pattern string) Command {
	return Command{method: "channels", params: patternParams{pattern}, retry: true}
}

// InfoCommand is Info inside a batch.
func InfoCommand() Command {
	return Command{method: "info", params: struct{}{}, retry: true}
}

// UnsubscribeCommand is Unsubscribe inside a batch; a batch holding it is
// not retried.
func UnsubscribeCommand(channel, user string) Command {
	return Command{method: "unsubscribe", params: unsubscribeParams{channel, user}}
}

// DisconnectCommand is Disconnect inside a batch; a batch holding it is
// not retried.
func DisconnectCommand(user string, reconnect bool) Command {
	return Command{method: "disconnect", params: disconnectParams{user, reconnect}}
}

// RawCommand calls any method with params encoding as a JSON object. It is
// never retried.
func RawCommand(method string, params any) Command {
	return Command{method: method, params: params}
}

// Reply is one command's answer: a result to decode, or an error.
type Reply struct {
	Result json.RawMessage `json:"result,omitempty"`
	Error  *Error          `json:"error,omitempty"`
}

// Decode unmarshals the result into out, or returns the reply's error.
func (r Reply) Decode(out any) error {
	if r.Error != nil {
		return r.Error
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("apiclient: decode batch reply: %w", err)
	}
	return nil
}

// Batch runs several commands in one request and returns their replies in
// order. Publishes get an idempotency key each when they have none, so a
// batch made only of publishes and reads is retried — as a whole, while a
// transport failure, a 5xx or a temporary error in some reply remains.
func (c *Client) Batch(ctx context.Context, cmds ...Command) ([]Reply, error) {
	type wire struct {
		Method string `json:"method"`
		Params any    `json:"params"`
	}
	body := struct {
		Commands []wire `json:"commands"`
	}{Commands: make([]wire, len(cmds))}
	retry := true
	for i, cmd := range cmds {
		if cmd.key != nil {
			if err := c.withKey(cmd.key); err != nil {
				return nil, fmt.Errorf("apiclient batch command %d: %w", i, err)
			}
		}
		retry = retry && cmd.retry
		params := cmd.params
		if params == nil {
			params = struct{}{}
		}
		body.Commands[i] = wire{Method: cmd.method, Params: params}
	}
	b, err := c.encode(body)
	if err != nil {
		return nil, fmt.Errorf("apiclient batch: encode: %w", err)
	}
	var out struct {
		Replies []Reply `json:"replies"`
	}
	err = c.do(ctx, "batch", b, retry, &out, func() bool {
		for _, rep := range out.Replies {
			if rep.Error != nil && rep.Error.Temporary() {
				out.Replies = nil // decode the retry afresh
				return true
			}
		}
		return false
	})
	if err != nil {
		return nil, err
	}
	for i := range out.Replies {
		if e := out.Replies[i].Error; e != nil {
			e.Status = 200
		}
	}
	return out.Replies, nil
}
