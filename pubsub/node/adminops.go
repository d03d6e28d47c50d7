package node

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/auth"
)

// The admin UI's operator actions. Each goes through the same operation
// as the server API method of the same name, so a disconnect from the UI
// and one from a backend cannot drift apart.

// MaxTestTokenTTL bounds the lifetime of a token minted from the admin UI:
// they are for trying a channel out, not for handing to an app.
const MaxTestTokenTTL = time.Hour

// Channels lists the project's live channels matching pattern (a glob;
// "" means all) with their subscribers summed over every node, as the
// `channels` method does.
func (b *AdminBridge) Channels(ctx context.Context, project, pattern string) (map[string]int, error) {
	p, perr := b.n.Project(ctx, project)
	if perr != nil {
		return nil, perr
	}
	m, perr := b.n.channels(ctx, p, pattern)
	if perr != nil {
		return nil, perr
	}
	out := make(map[string]int, len(m))
	for ch, c := range m {
		out[ch] = c.Clients
	}
	return out, nil
}

// Disconnect ends a user's streams on every node, as the `disconnect`
// method does: with reconnect the clients may come back at once, without
// it the user's sessions issued until now are revoked.
func (b *AdminBridge) Disconnect(ctx context.Context, project, user string, reconnect bool) error {
	p, perr := b.n.Project(ctx, project)
	if perr != nil {
		return perr
	}
	if _, perr := apiDisconnect(b.n, ctx, p, &APIParams{User: user, Reconnect: reconnect}); perr != nil {
		return perr
	}
	return nil
}

// Unsubscribe ends a user's subscription to a channel on every node, as
// the `unsubscribe` method does.
func (b *AdminBridge) Unsubscribe(ctx context.Context, project, user, channel string) error {
	p, perr := b.n.Project(ctx, project)
	if perr != nil {
		return perr
	}
	if _, perr := apiUnsubscribe(b.n, ctx, p, &APIParams{User: user, Channel: channel}); perr != nil {
		return perr
	}
	return nil
}

// ConnectionToken mints a connection token for user signed with the
// project secret, expiring after ttl (at most MaxTestTokenTTL).
func (b *AdminBridge) ConnectionToken(ctx context.Context, project, user string, ttl time.Duration) (string, error) {
	p, perr := b.n.Project(ctx, project)
	if perr != nil {
		return "", perr
	}
	if user == "" {
		return "", pubsub.Errorf(pubsub.CodeBadRequest, "user is required")
	}
	return auth.MintConnectionToken([]byte(p.Secret), auth.ConnectionClaims{
		User: user, Expires: b.n.opts.Now().Add(testTokenTTL(ttl)), Info: json.RawMessage(`{"admin_test":true}`),
	})
}

// SubscriptionToken mints a subscription token to channel for user (""
// for an anonymous connection), expiring after ttl (at most
// MaxTestTokenTTL).
func (b *AdminBridge) SubscriptionToken(ctx context.Context, project, user, channel string, ttl time.Duration) (string, error) {
	c, err := b.channel(ctx, project, channel)
	if err != nil {
		return "", err
	}
	return auth.MintSubscriptionToken([]byte(c.project.Secret), auth.SubscriptionClaims{
		User: user, Channel: c.ch.Full, Expires: b.n.opts.Now().Add(testTokenTTL(ttl)),
	})
}

func testTokenTTL(d time.Duration) time.Duration {
	if d <= 0 || d > MaxTestTokenTTL {
		return MaxTestTokenTTL
	}
	return d
}
