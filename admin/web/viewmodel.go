package web

import (
	"cmp"
	"slices"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/views"
)

// This file is the one place where admin and pubsub values become the
// views package's view models, which know no Rotor type.

// projectView is what the project pages show of p: everything but the
// secret and the API key.
func projectView(p structure.Project) views.Project {
	v := views.Project{
		ID:               p.ID,
		Name:             p.Name,
		DefaultNamespace: p.DefaultNamespace,
		AuthURL:          p.AuthURL,
		PublishHookURL:   p.PublishHookURL,
		EventsHookURL:    p.EventsHookURL,
		AllowedOrigins:   slices.Clone(p.AllowedOrigins),
		Anonymous:        p.Anonymous,
	}
	for _, ns := range p.Namespaces {
		v.Namespaces = append(v.Namespaces, namespaceView(ns))
	}
	return v
}

func projectViews(list []structure.Project) []views.Project {
	out := make([]views.Project, 0, len(list))
	for _, p := range list {
		out = append(out, projectView(p))
	}
	return out
}

func namespaceView(ns structure.Namespace) views.Namespace {
	return views.Namespace{
		Name:        ns.Name,
		Publish:     ns.Publish,
		Anonymous:   ns.Anonymous,
		Presence:    ns.Presence,
		JoinLeave:   ns.JoinLeave,
		HistorySize: ns.HistorySize,
		HistoryTTL:  ns.HistoryTTL.String(),
		Watch:       ns.Watch,
	}
}

// totals sums the nodes' counters, for the dashboard and its stats JSON.
func totals(nodes []pubsub.NodeInfo) pubsub.NodeInfo {
	var t pubsub.NodeInfo
	for _, n := range nodes {
		t.Clients += n.Clients
		t.Subscriptions += n.Subscriptions
		t.Channels += n.Channels
		t.PublicationsPerSec += n.PublicationsPerSec
	}
	return t
}

func dashboardView(d nodeSummary) views.Dashboard {
	t := totals(d.nodes)
	v := views.Dashboard{
		Totals:   views.Totals{Clients: t.Clients, Channels: t.Channels, PublicationsPerSec: t.PublicationsPerSec},
		Projects: d.projects,
		Err:      d.err,
	}
	for _, n := range d.nodes {
		v.Nodes = append(v.Nodes, views.Node{
			ID: n.ID, Version: n.Version, Uptime: n.Uptime, Clients: n.Clients,
			Subscriptions: n.Subscriptions, Channels: n.Channels, PublicationsPerSec: n.PublicationsPerSec,
		})
	}
	return v
}

func positionView(p pubsub.Position) *views.Position {
	return &views.Position{Epoch: p.Epoch, Offset: p.Offset}
}

// presenceView lists the members by client id: a map has no order, and a
// page that reorders itself on every reload is hard to read.
func presenceView(pres map[string]*pubsub.ClientInfo) []views.Member {
	out := make([]views.Member, 0, len(pres))
	for id, ci := range pres {
		m := views.Member{Client: id}
		if ci != nil {
			m.User, m.Info = ci.User, string(ci.Info)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b views.Member) int { return cmp.Compare(a.Client, b.Client) })
	return out
}

func historyView(pubs []*pubsub.Publication) []views.Publication {
	out := make([]views.Publication, 0, len(pubs))
	for _, p := range pubs {
		v := views.Publication{Offset: p.Offset, Data: string(p.Data)}
		if p.Info != nil {
			v.Publisher = p.Info.User
		}
		out = append(out, v)
	}
	return out
}
