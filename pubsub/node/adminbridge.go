package node

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/rotor-rt/rotor/pubsub"
)

// AdminBridge gives the admin pages what they need from the node:
// publishing, history, presence, node info and the live watch. Its methods
// match admin/web's Node interface.
type AdminBridge struct{ n *Node }

// Admin returns the node's bridge for the admin UI.
func (n *Node) Admin() *AdminBridge { return &AdminBridge{n: n} }

func (b *AdminBridge) channel(ctx context.Context, project, channel string) (Ref, error) {
	p, perr := b.n.Project(ctx, project)
	if perr != nil {
		return Ref{}, perr
	}
	c, perr := resolve(p, channel)
	if perr != nil {
		return Ref{}, perr
	}
	return c, nil
}

// Publish publishes as the server API does.
func (b *AdminBridge) Publish(ctx context.Context, project, channel string, data json.RawMessage) (pubsub.Position, error) {
	c, err := b.channel(ctx, project, channel)
	if err != nil {
		return pubsub.Position{}, err
	}
	data, perr := CompactData(data)
	if perr != nil {
		return pubsub.Position{}, perr
	}
	pos, perr := b.n.Publish(ctx, c, data, nil)
	if perr != nil {
		return pubsub.Position{}, perr
	}
	return pos, nil
}

// History returns the newest limit publications, oldest first.
func (b *AdminBridge) History(ctx context.Context, project, channel string, limit int) ([]*pubsub.Publication, pubsub.Position, error) {
	c, err := b.channel(ctx, project, channel)
	if err != nil {
		return nil, pubsub.Position{}, err
	}
	res, perr := b.n.history(ctx, c, HistoryParams{Limit: &limit})
	if perr != nil {
		return nil, pubsub.Position{}, perr
	}
	return res.Publications, pubsub.Position{Epoch: res.Epoch, Offset: res.Offset}, nil
}

// Presence returns who is in a channel.
func (b *AdminBridge) Presence(ctx context.Context, project, channel string) (map[string]*pubsub.ClientInfo, error) {
	c, err := b.channel(ctx, project, channel)
	if err != nil {
		return nil, err
	}
	m, perr := b.n.presenceClients(ctx, c)
	if perr != nil {
		return nil, perr
	}
	return m, nil
}

// Nodes describes the cluster's nodes.
func (b *AdminBridge) Nodes(ctx context.Context) ([]pubsub.NodeInfo, error) { return b.n.Nodes(ctx) }

// watchBuffer bounds what a slow admin page may fall behind by; beyond it
// publications are dropped for that page only.
const watchBuffer = 256

// ProjectWatcher is an engine part, given as Options.Watcher: an engine whose nodes
// receive only the keys they subscribed to (Redis) delivers every
// publication of a project, made on any node, while a watch is open. An
// engine without it (memory: one process) delivers everything to the hub
// already.
type ProjectWatcher interface {
	// WatchProject calls fn with the key and publication of every
	// publication made to project's channels until stop is called; fn
	// must not block.
	WatchProject(ctx context.Context, project string, fn func(key string, pub *pubsub.Publication)) (stop func(), err error)
}

// Watch delivers the publications of project's channels in namespaces
// with watch on, until ctx is done: those made on any node when the
// engine is a ProjectWatcher, else those the hub sees.
func (b *AdminBridge) Watch(ctx context.Context, project string) (<-chan *pubsub.Publication, error) {
	if _, perr := b.n.Project(ctx, project); perr != nil {
		return nil, perr
	}
	out := make(chan *pubsub.Publication, watchBuffer)
	// mu orders the hub's sends against the close when ctx ends.
	var mu sync.Mutex
	closed := false
	fn := func(key string, pub *pubsub.Publication) {
		_, name := pubsub.SplitKey(key)
		p, err := b.n.opts.Projects.Project(context.Background(), project)
		if err != nil {
			return
		}
		c, perr := resolve(p, name)
		if perr != nil || !c.ns.Watch {
			return
		}
		cp := *pub
		cp.Channel = name
		mu.Lock()
		defer mu.Unlock()
		if !closed {
			select {
			case out <- &cp:
			default: // a slow page drops, the hub never waits
			}
		}
	}
	var stop func()
	if pw := b.n.opts.Watcher; pw != nil {
		var err error
		if stop, err = pw.WatchProject(ctx, project, fn); err != nil {
			return nil, fmt.Errorf("watch %q: %w", project, err)
		}
	} else {
		stop = b.n.hub.Watch(project, fn)
	}
	go func() {
		<-ctx.Done()
		stop()
		mu.Lock()
		closed = true
		close(out)
		mu.Unlock()
	}()
	return out, nil
}
