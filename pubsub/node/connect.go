package node

import (
	"context"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Connected is the outcome of `connect`: the client's identity, its
// session, and the result of subscribing to the channels its token names.
type Connected struct {
	ID      *Identity
	Session string
	// Subs answers each channel of the token's channels claim.
	Subs map[string]*SubscribeResult
}

// Connect turns a connection token (or none, where the project allows
// anonymous clients) into a server-signed session (docs/protocol.md,
// Connect), subscribes to the channels the token names, and reports
// `connect` to the events hook.
func (n *Node) Connect(ctx context.Context, p *structure.Project, token string) (*Connected, *pubsub.Error) {
	defer n.metrics.ops.observeConnect(time.Now())
	id, claims, perr := n.sessions.fromToken(p, token)
	if perr != nil {
		return nil, unauthorized(perr)
	}
	session, err := n.sessions.signSession(id)
	if err != nil {
		n.log.ErrorContext(ctx, "sign session", "err", err)
		return nil, pubsub.ErrInternal
	}
	out := &Connected{ID: id, Session: session}
	if len(claims.Channels) > 0 {
		cmds := make([]Command, len(claims.Channels))
		for i, ch := range claims.Channels {
			cmds[i] = Command{ID: uint64(i + 1), Method: "subscribe", Params: CommandParams{Channel: ch}}
		}
		replies := n.runCommands(ctx, id, cmds)
		out.Subs = make(map[string]*SubscribeResult, len(replies))
		for i, rep := range replies {
			if rep.Error != nil {
				out.Subs[claims.Channels[i]] = &SubscribeResult{Error: rep.Error}
			} else {
				out.Subs[claims.Channels[i]] = rep.Result.(*SubscribeResult)
			}
		}
	}
	n.events.emit(p, Event{Type: EventConnect, Client: id.client, User: id.user, Info: id.info})
	return out, nil
}

// User returns the user id ("" for anonymous).
func (id *Identity) User() string { return id.user }
