package web_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/memory"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// testNode implements web.Node over the real in-memory engine, as the
// server does: the engine delivers every publication to HandlePublication,
// which feeds the project's watchers.
type testNode struct {
	engine *memory.Engine
	store  interface {
		Project(context.Context, string) (*structure.Project, error)
	}

	mu       sync.Mutex
	watchers map[string]map[chan *pubsub.Publication]struct{}
}

func newTestNode(t *testing.T, store interface {
	Project(context.Context, string) (*structure.Project, error)
}) *testNode {
	t.Helper()
	n := &testNode{engine: memory.New(memory.Options{}), store: store,
		watchers: map[string]map[chan *pubsub.Publication]struct{}{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := n.engine.Start(ctx, n); err != nil {
		t.Fatalf("start memory engine: %v", err)
	}
	return n
}

func (n *testNode) namespace(project, channel string) (*structure.Namespace, error) {
	p, err := n.store.Project(context.Background(), project)
	if err != nil {
		return nil, err
	}
	nsName := ""
	for i := range len(channel) {
		if channel[i] == ':' {
			nsName = channel[:i]
			break
		}
	}
	ns, ok := p.Namespace(nsName)
	if !ok {
		return nil, pubsub.ErrUnknownChannel
	}
	return ns, nil
}

func (n *testNode) Publish(ctx context.Context, project, channel string, data json.RawMessage) (pubsub.Position, error) {
	ns, err := n.namespace(project, channel)
	if err != nil {
		return pubsub.Position{}, err
	}
	return n.engine.Publish(ctx, pubsub.Key(project, channel), data,
		pubsub.PublishOptions{HistorySize: ns.HistorySize, HistoryTTL: ns.HistoryTTL})
}

func (n *testNode) History(ctx context.Context, project, channel string, limit int) ([]*pubsub.Publication, pubsub.Position, error) {
	ns, err := n.namespace(project, channel)
	if err != nil {
		return nil, pubsub.Position{}, err
	}
	if ns.HistorySize == 0 {
		return nil, pubsub.Position{}, pubsub.ErrNotAvailable
	}
	res, err := n.engine.History(ctx, pubsub.Key(project, channel), pubsub.HistoryRequest{Limit: limit})
	if err != nil {
		return nil, pubsub.Position{}, err
	}
	return res.Publications, res.Position, nil
}

func (n *testNode) Presence(ctx context.Context, project, channel string) (map[string]*pubsub.ClientInfo, error) {
	ns, err := n.namespace(project, channel)
	if err != nil {
		return nil, err
	}
	if !ns.Presence {
		return nil, pubsub.ErrNotAvailable
	}
	return n.engine.Presence(ctx, pubsub.Key(project, channel))
}

func (n *testNode) Nodes(context.Context) ([]pubsub.NodeInfo, error) {
	return []pubsub.NodeInfo{{ID: "node-1", Version: "test", Clients: 3, Channels: 2, PublicationsPerSec: 1.5}}, nil
}

func (n *testNode) Watch(ctx context.Context, project string) (<-chan *pubsub.Publication, error) {
	ch := make(chan *pubsub.Publication, 64)
	n.mu.Lock()
	if n.watchers[project] == nil {
		n.watchers[project] = map[chan *pubsub.Publication]struct{}{}
	}
	n.watchers[project][ch] = struct{}{}
	n.mu.Unlock()
	context.AfterFunc(ctx, func() {
		n.mu.Lock()
		delete(n.watchers[project], ch)
		n.mu.Unlock()
		close(ch)
	})
	return ch, nil
}

// HandlePublication feeds watchers of channels in namespaces with watch
// on; a full watcher misses the publication (never blocks the engine).
func (n *testNode) HandlePublication(key string, pub *pubsub.Publication) {
	project, channel := pubsub.SplitKey(key)
	if ns, err := n.namespace(project, channel); err != nil || !ns.Watch {
		return
	}
	p := *pub
	p.Channel = channel
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.watchers[project] {
		select {
		case ch <- &p:
		default:
		}
	}
}

func (n *testNode) HandleJoin(string, *pubsub.ClientInfo)  {}
func (n *testNode) HandleLeave(string, *pubsub.ClientInfo) {}
func (n *testNode) HandleControl([]byte)                   {}
func (n *testNode) HandleReconnect()                       {}
