package node

import (
	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// Ref is a channel resolved in a project: its parsed name, its
// namespace's settings and its engine key. Resolution and its rules are
// the structure's (structure.Resolve, structure.CheckSubscribe); Ref only
// keeps their results together with the engine key.
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

// resolve is structure.Resolve with the engine key added.
func resolve(p *structure.Project, name string) (Ref, *pubsub.Error) {
	ch, ns, perr := structure.Resolve(p, name)
	if perr != nil {
		return Ref{}, perr
	}
	return Ref{project: p, ch: ch, ns: ns, key: pubsub.Key(p.ID, name)}, nil
}

// checkSubscribe is structure.CheckSubscribe on a resolved channel.
func checkSubscribe(c Ref, user string) *pubsub.Error {
	return structure.CheckSubscribe(c.ns, c.ch, user)
}

// publishOptions turns namespace settings into engine options.
func publishOptions(ns *structure.Namespace, info *pubsub.ClientInfo) pubsub.PublishOptions {
	return ns.PublishOptions(info)
}
