package node

import (
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Ref is a channel resolved in a project: its parsed name, its
// namespace's settings and its engine key.
type Ref struct {
	project *structure.Project
	ch      pubsub.Channel
	ns      *structure.Namespace
	key     string
}

// Name returns the channel's name as clients write it.
func (c Ref) Name() string { return c.ch.Full }

// historyOn reports whether the channel keeps history.
func (c Ref) historyOn() bool { return c.ns.HistorySize > 0 }

// Resolve parses name and finds its namespace in project p: 107 for a
// malformed name, 102 for an unknown namespace.
func Resolve(p *structure.Project, name string) (Ref, *pubsub.Error) { return resolve(p, name) }

// resolve parses name and finds its namespace: 107 for a malformed name,
// 102 for an unknown namespace.
func resolve(p *structure.Project, name string) (Ref, *pubsub.Error) {
	ch, err := pubsub.ParseChannel(name)
	if err != nil {
		return Ref{}, pubsub.AsError(err)
	}
	ns, ok := p.Namespace(ch.Namespace)
	if !ok {
		return Ref{}, pubsub.Errorf(pubsub.CodeUnknownChannel, "unknown namespace in channel %q", name)
	}
	return Ref{project: p, ch: ch, ns: ns, key: pubsub.Key(p.ID, name)}, nil
}

// checkSubscribe applies the rules every subscription passes, before any
// private-channel authorization: anonymous clients only where the
// namespace allows them, user-limited channels only for their users.
func checkSubscribe(c Ref, user string) *pubsub.Error {
	if user == "" && !c.ns.Anonymous {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: anonymous clients may not subscribe to %q", c.ch.Full)
	}
	if !c.ch.AllowsUser(user) {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: %q is limited to other users", c.ch.Full)
	}
	return nil
}

// publishOptions turns namespace settings into engine options.
func publishOptions(ns *structure.Namespace, info *pubsub.ClientInfo) pubsub.PublishOptions {
	return pubsub.PublishOptions{HistorySize: ns.HistorySize, HistoryTTL: ns.HistoryTTL, Info: info}
}
