package node

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/auth"
)

// Identity is who a request acts for: from a connection token or a
// session.
type Identity struct {
	project *admin.Project
	client  string
	user    string
	info    json.RawMessage
	issued  time.Time
	expires time.Time
}

// Client returns the client id.
func (id *Identity) Client() string { return id.client }

// Expires returns when the identity's session ends.
func (id *Identity) Expires() time.Time { return id.expires }

func (id *Identity) clientInfo(chanInfo json.RawMessage) *pubsub.ClientInfo {
	return &pubsub.ClientInfo{Client: id.client, User: id.user, Info: id.info, ChanInfo: chanInfo}
}

// fromToken connects with a connection token, or anonymously when the
// token is empty and the project allows it.
func (n *Node) fromToken(p *admin.Project, token string) (*Identity, *auth.ConnectionClaims, *pubsub.Error) {
	now := n.opts.Now()
	id := &Identity{project: p, client: randomID(12), issued: now, expires: now.Add(n.opts.SessionTTL)}
	if token == "" {
		if !p.Anonymous {
			return nil, nil, pubsub.Errorf(pubsub.CodeUnauthorized, "a connection token is required")
		}
		return id, &auth.ConnectionClaims{}, nil
	}
	claims := n.tokens.get(p.ID, p.Secret, token, now)
	if claims == nil {
		var err error
		claims, err = auth.ParseConnectionToken(token, []byte(p.Secret), now)
		if err != nil {
			return nil, nil, pubsub.AsError(err)
		}
		n.tokens.put(p.ID, p.Secret, token, claims)
	}
	id.user, id.info = claims.User, claims.Info
	if !claims.Expires.IsZero() {
		id.expires = claims.Expires
	}
	return id, claims, nil
}

// Session verifies a session string and its revocation mark: who a
// command or a stream acts for.
func (n *Node) Session(ctx context.Context, p *admin.Project, s string) (*Identity, *pubsub.Error) {
	if s == "" {
		return nil, pubsub.Errorf(pubsub.CodeUnauthorized, "a session is required")
	}
	sess, err := auth.VerifySession([]byte(p.Secret), p.ID, s, n.opts.Now())
	if err != nil {
		return nil, unauthorized(err)
	}
	if sess.User != "" {
		mark, err := n.engine.RevokedBefore(ctx, pubsub.Key(p.ID, sess.User))
		if err != nil {
			return nil, pubsub.AsError(err)
		}
		if !mark.IsZero() && !sess.Issued.After(mark) {
			return nil, pubsub.Errorf(pubsub.CodeUnauthorized, "session revoked")
		}
	}
	return &Identity{project: p, client: sess.Client, user: sess.User, info: sess.Info, issued: sess.Issued, expires: sess.Expires}, nil
}

// unauthorized is a credential's failure as 101 or 109: a failure that is
// neither (an internal one) still refuses the credential with 101.
func unauthorized(err error) *pubsub.Error {
	e := pubsub.AsError(err)
	if e.Code != pubsub.CodeUnauthorized && e.Code != pubsub.CodeTokenExpired {
		return &pubsub.Error{Code: pubsub.CodeUnauthorized, Message: e.Message}
	}
	return e
}

// signSession issues the session string of id.
func (n *Node) signSession(id *Identity) (string, error) {
	return auth.SignSession([]byte(id.project.Secret), auth.Session{
		Project: id.project.ID, Client: id.client, User: id.user, Info: id.info,
		Issued: id.issued, Expires: id.expires,
	})
}

// signGrant issues a grant for id in channel c.
func (n *Node) signGrant(id *Identity, c Ref, chanInfo json.RawMessage) (string, error) {
	return auth.SignGrant([]byte(id.project.Secret), auth.Grant{
		Project: id.project.ID, Channel: c.ch.Full, Client: id.client, User: id.user,
		// Issued lets an `unsubscribe` API call revoke the grants issued
		// before it (docs/protocol.md, Server API).
		ChanInfo: chanInfo, Issued: n.opts.Now(), Expires: id.expires,
	})
}

// authorizePrivate decides on private channels for one client with one
// call to the project's auth_url (docs/protocol.md, Private channels). Without auth_url every channel
// is denied. The map has an entry per channel.
func (n *Node) authorizePrivate(ctx context.Context, id *Identity, names []string) map[string]AuthResult {
	if len(names) == 0 {
		return nil
	}
	p := id.project
	if p.AuthURL == "" {
		return map[string]AuthResult{}
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.HookTimeout)
	defer cancel()
	start := time.Now()
	res, err := n.opts.Authorizer.Authorize(ctx, AuthRequest{
		URL: p.AuthURL, Secret: []byte(p.Secret), Client: id.client, User: id.user, Channels: names,
	})
	n.metrics.observeHook("auth", start, err)
	if err != nil {
		n.log.WarnContext(ctx, "auth_url denied by failure", "project", p.ID, "err", err)
	}
	if res == nil {
		res = map[string]AuthResult{}
	}
	return res
}

// subscriptionToken checks a subscription token for id and returns the
// channel it names and its info.
func (n *Node) subscriptionToken(id *Identity, token string) (*auth.SubscriptionClaims, *pubsub.Error) {
	claims, err := auth.ParseSubscriptionToken(token, []byte(id.project.Secret), n.opts.Now())
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	if claims.User != id.user {
		return nil, pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: subscription token for channel %q is for another user", claims.Channel)
	}
	return claims, nil
}

// errNoProject is an unknown project: 102, of kind KindNotFound.
var errNoProject = &pubsub.Error{Code: pubsub.CodeUnknownChannel, Message: "unknown project", Kind: pubsub.KindNotFound}

// Project finds the project of a request: errNoProject when unknown, 112
// when the store fails.
func (n *Node) Project(ctx context.Context, id string) (*admin.Project, *pubsub.Error) {
	p, err := n.opts.Projects.Project(ctx, id)
	if err != nil {
		if errors.Is(err, admin.ErrNotFound) {
			return nil, errNoProject
		}
		n.log.ErrorContext(ctx, "project lookup", "project", id, "err", err)
		return nil, pubsub.ErrUnavailable
	}
	return p, nil
}
