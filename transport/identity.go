package transport

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/rotor-rt/rotor/admin"
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/transport/auth"
	"github.com/rotor-rt/rotor/transport/hooks"
)

// identity is who a request acts for: from a connection token or a session.
type identity struct {
	project *admin.Project
	client  string
	user    string
	info    json.RawMessage
	issued  time.Time
	expires time.Time
}

func (id *identity) clientInfo(chanInfo json.RawMessage) *pubsub.ClientInfo {
	return &pubsub.ClientInfo{Client: id.client, User: id.user, Info: id.info, ChanInfo: chanInfo}
}

// sessionCookie is the cookie `connect` sets (docs/protocol.md, Connect).
const sessionCookie = "rotor_session"

// fromToken connects with a connection token, or anonymously when the
// token is empty and the project allows it.
func (n *Node) fromToken(p *admin.Project, token string) (*identity, *auth.ConnectionClaims, *pubsub.Error) {
	now := n.opts.Now()
	id := &identity{project: p, client: randomID(12), issued: now, expires: now.Add(n.opts.SessionTTL)}
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

// fromSession verifies a session string and its revocation mark. The error
// comes with its HTTP status.
func (n *Node) fromSession(ctx context.Context, p *admin.Project, s string) (*identity, int, *pubsub.Error) {
	if s == "" {
		return nil, http.StatusUnauthorized, pubsub.Errorf(pubsub.CodeUnauthorized, "a session is required")
	}
	sess, err := auth.VerifySession([]byte(p.Secret), p.ID, s, n.opts.Now())
	if err != nil {
		return nil, http.StatusUnauthorized, pubsub.AsError(err)
	}
	if sess.User != "" {
		mark, err := n.engine.RevokedBefore(ctx, pubsub.Key(p.ID, sess.User))
		if err != nil {
			e := pubsub.AsError(err)
			return nil, statusOf(e), e
		}
		if !mark.IsZero() && !sess.Issued.After(mark) {
			return nil, http.StatusUnauthorized, pubsub.Errorf(pubsub.CodeUnauthorized, "session revoked")
		}
	}
	return &identity{project: p, client: sess.Client, user: sess.User, info: sess.Info, issued: sess.Issued, expires: sess.Expires}, 0, nil
}

// signSession issues the session string of id.
func (n *Node) signSession(id *identity) (string, error) {
	return auth.SignSession([]byte(id.project.Secret), auth.Session{
		Project: id.project.ID, Client: id.client, User: id.user, Info: id.info,
		Issued: id.issued, Expires: id.expires,
	})
}

// signGrant issues a grant for id in channel c.
func (n *Node) signGrant(id *identity, c chanRef, chanInfo json.RawMessage) (string, error) {
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
func (n *Node) authorizePrivate(ctx context.Context, id *identity, names []string) map[string]hooks.AuthResult {
	if len(names) == 0 {
		return nil
	}
	p := id.project
	if p.AuthURL == "" {
		return map[string]hooks.AuthResult{}
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.HookTimeout)
	defer cancel()
	start := time.Now()
	res, err := n.opts.Authorizer.Authorize(ctx, hooks.AuthRequest{
		URL: p.AuthURL, Secret: []byte(p.Secret), Client: id.client, User: id.user, Channels: names,
	})
	n.metrics.observeHook("auth", start, err)
	if err != nil {
		n.log.WarnContext(ctx, "auth_url denied by failure", "project", p.ID, "err", err)
	}
	if res == nil {
		res = map[string]hooks.AuthResult{}
	}
	return res
}

// subscriptionToken checks a subscription token for id and returns the
// channel it names and its info.
func (n *Node) subscriptionToken(id *identity, token string) (*auth.SubscriptionClaims, *pubsub.Error) {
	claims, err := auth.ParseSubscriptionToken(token, []byte(id.project.Secret), n.opts.Now())
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	if claims.User != id.user {
		return nil, pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: subscription token for channel %q is for another user", claims.Channel)
	}
	return claims, nil
}

// errNoProject answers 404 for an unknown project.
var errNoProject = &pubsub.Error{Code: pubsub.CodeUnknownChannel, Message: "unknown project"}

// lookupProject finds the project of a request: 404 when unknown, 503 when
// the store fails.
func (n *Node) lookupProject(ctx context.Context, id string) (*admin.Project, int, *pubsub.Error) {
	p, err := n.opts.Projects.Project(ctx, id)
	if err != nil {
		if errors.Is(err, admin.ErrNotFound) {
			return nil, http.StatusNotFound, errNoProject
		}
		n.log.ErrorContext(ctx, "project lookup", "project", id, "err", err)
		return nil, http.StatusServiceUnavailable, pubsub.ErrUnavailable
	}
	return p, 0, nil
}
