package node

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/transport/auth"
)

// sessions issues and checks what identifies a client: connection and
// subscription tokens, server-signed sessions and grants, revocation
// marks, and auth_url's answers on private channels.
type sessions struct {
	revoker     pubsub.Revoker
	tokens      *tokenCache
	authorizer  Authorizer
	metrics     *nodeMetrics
	log         *slog.Logger
	now         func() time.Time
	ttl         time.Duration
	hookTimeout time.Duration
}

// Identity is who a request acts for: from a connection token or a
// session.
type Identity struct {
	project *structure.Project
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
func (ss *sessions) fromToken(p *structure.Project, token string) (*Identity, *auth.ConnectionClaims, *pubsub.Error) {
	now := ss.now()
	id := &Identity{project: p, client: pubsub.RandomID(12), issued: now, expires: now.Add(ss.ttl)}
	if token == "" {
		if !p.Anonymous {
			return nil, nil, pubsub.Errorf(pubsub.CodeUnauthorized, "a connection token is required")
		}
		return id, &auth.ConnectionClaims{}, nil
	}
	claims := ss.tokens.get(p.ID, p.Secret, token, now)
	if claims == nil {
		var err error
		claims, err = auth.ParseConnectionToken(token, []byte(p.Secret), now)
		if err != nil {
			return nil, nil, pubsub.AsError(err)
		}
		ss.tokens.put(p.ID, p.Secret, token, claims)
	}
	id.user, id.info = claims.User, claims.Info
	if !claims.Expires.IsZero() {
		id.expires = claims.Expires
	}
	return id, claims, nil
}

// Session verifies a session string and its revocation mark: who a
// command or a stream acts for.
func (n *Node) Session(ctx context.Context, p *structure.Project, s string) (*Identity, *pubsub.Error) {
	return n.sessions.verify(ctx, p, s)
}

// verify verifies a session string and its revocation mark.
func (ss *sessions) verify(ctx context.Context, p *structure.Project, s string) (*Identity, *pubsub.Error) {
	if s == "" {
		return nil, pubsub.Errorf(pubsub.CodeUnauthorized, "a session is required")
	}
	sess, err := auth.VerifySession([]byte(p.Secret), p.ID, s, ss.now())
	if err != nil {
		return nil, unauthorized(err)
	}
	if sess.User != "" {
		mark, err := ss.revoker.RevokedBefore(ctx, pubsub.Key(p.ID, sess.User))
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
func (ss *sessions) signSession(id *Identity) (string, error) {
	return auth.SignSession([]byte(id.project.Secret), auth.Session{
		Project: id.project.ID, Client: id.client, User: id.user, Info: id.info,
		Issued: id.issued, Expires: id.expires,
	})
}

// signGrant issues a grant for id in channel c.
func (ss *sessions) signGrant(id *Identity, c Ref, chanInfo json.RawMessage) (string, error) {
	return auth.SignGrant([]byte(id.project.Secret), auth.Grant{
		Project: id.project.ID, Channel: c.ch.Full, Client: id.client, User: id.user,
		// Issued lets an `unsubscribe` API call revoke the grants issued
		// before it (docs/protocol.md, Server API).
		ChanInfo: chanInfo, Issued: ss.now(), Expires: id.expires,
	})
}

// authorizePrivate decides on private channels for one client with one
// call to the project's auth_url (docs/protocol.md, Private channels). Without auth_url every channel
// is denied. The map has an entry per channel.
func (ss *sessions) authorizePrivate(ctx context.Context, id *Identity, names []string) map[string]AuthResult {
	if len(names) == 0 {
		return nil
	}
	p := id.project
	if p.AuthURL == "" {
		return map[string]AuthResult{}
	}
	ctx, cancel := context.WithTimeout(ctx, ss.hookTimeout)
	defer cancel()
	start := time.Now()
	res, err := ss.authorizer.Authorize(ctx, AuthRequest{
		URL: p.AuthURL, Secret: []byte(p.Secret), Client: id.client, User: id.user, Channels: names,
	})
	ss.metrics.observeHook("auth", start, err)
	if err != nil {
		ss.log.WarnContext(ctx, "auth_url denied by failure", "project", p.ID, "err", err)
	}
	if res == nil {
		res = map[string]AuthResult{}
	}
	return res
}

// subscriptionToken checks a subscription token for id and returns the
// channel it names and its info.
func (ss *sessions) subscriptionToken(id *Identity, token string) (*auth.SubscriptionClaims, *pubsub.Error) {
	claims, err := auth.ParseSubscriptionToken(token, []byte(id.project.Secret), ss.now())
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
func (n *Node) Project(ctx context.Context, id string) (*structure.Project, *pubsub.Error) {
	p, err := n.opts.Projects.Project(ctx, id)
	if err != nil {
		if errors.Is(err, structure.ErrNotFound) {
			return nil, errNoProject
		}
		n.log.ErrorContext(ctx, "project lookup", "project", id, "err", err)
		return nil, pubsub.ErrUnavailable
	}
	return p, nil
}

// checkGrant verifies that a client holds a grant for a private channel.
func (ss *sessions) checkGrant(ctx context.Context, id *Identity, c Ref, grant string) *pubsub.Error {
	if grant == "" {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: a grant is required for private channel %q", c.ch.Full)
	}
	g, err := auth.VerifyGrant([]byte(id.project.Secret), id.project.ID, id.client, grant, ss.now())
	if err != nil {
		return pubsub.AsError(err)
	}
	if g.Channel != c.ch.Full {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: the grant is for channel %q", g.Channel)
	}
	if perr := ss.grantRevoked(ctx, id, g); perr != nil {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: %s", perr.Message)
	}
	return nil
}

// grantRevoked refuses a grant issued before an `unsubscribe` API call for
// its user and channel (docs/protocol.md, Server API), with 101.
func (ss *sessions) grantRevoked(ctx context.Context, id *Identity, g *auth.Grant) *pubsub.Error {
	if id.user == "" {
		return nil
	}
	mark, err := ss.revoker.RevokedBefore(ctx, grantRevocationKey(id.project.ID, id.user, g.Channel))
	if err != nil {
		return pubsub.AsError(err)
	}
	if !mark.IsZero() && !g.Issued.After(mark) {
		return pubsub.Errorf(pubsub.CodeUnauthorized, "grant revoked")
	}
	return nil
}

// refresh issues a fresh session for id from a new connection token of
// the same user.
func (ss *sessions) refresh(id *Identity, token string) (*RefreshResult, *pubsub.Error) {
	claims, err := auth.ParseConnectionToken(token, []byte(id.project.Secret), ss.now())
	if err != nil {
		return nil, pubsub.AsError(err)
	}
	if claims.User != id.user {
		return nil, pubsub.Errorf(pubsub.CodeUnauthorized, "token is for another user")
	}
	fresh := *id
	fresh.issued = ss.now()
	fresh.info = claims.Info
	fresh.expires = fresh.issued.Add(ss.ttl)
	if !claims.Expires.IsZero() {
		fresh.expires = claims.Expires
	}
	s, err := ss.signSession(&fresh)
	if err != nil {
		return nil, pubsub.ErrInternal
	}
	return &RefreshResult{Session: s, Expires: fresh.expires.Unix(), expires: fresh.expires}, nil
}
