package structure

import "github.com/rotor-rt/rotor/pubsub"

// The channel name grammar stays in pubsub (pubsub.ParseChannel), which
// imports no Rotor package; this package builds on it, and pubsub never
// imports this one.

// Resolve parses name and finds its namespace in project p: 107 for a
// malformed name, 102 for an unknown namespace.
func Resolve(p *Project, name string) (pubsub.Channel, *Namespace, *pubsub.Error) {
	ch, err := pubsub.ParseChannel(name)
	if err != nil {
		return pubsub.Channel{}, nil, pubsub.AsError(err)
	}
	ns, ok := p.Namespace(ch.Namespace)
	if !ok {
		return pubsub.Channel{}, nil, pubsub.Errorf(pubsub.CodeUnknownChannel, "unknown namespace in channel %q", name)
	}
	return ch, ns, nil
}

// CheckSubscribe applies the rules every subscription passes, before any
// private-channel authorization: anonymous clients only where the
// namespace allows them, user-limited channels only for their users.
func CheckSubscribe(ns *Namespace, ch pubsub.Channel, user string) *pubsub.Error {
	if user == "" && !ns.Anonymous {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: anonymous clients may not subscribe to %q", ch.Full)
	}
	if !ch.AllowsUser(user) {
		return pubsub.Errorf(pubsub.CodePermissionDenied, "permission denied: %q is limited to other users", ch.Full)
	}
	return nil
}

// PublishOptions turns namespace settings into engine options.
func (ns *Namespace) PublishOptions(info *pubsub.ClientInfo) pubsub.PublishOptions {
	return pubsub.PublishOptions{HistorySize: ns.HistorySize, HistoryTTL: ns.HistoryTTL, Info: info}
}
