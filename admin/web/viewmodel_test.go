package web

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub"
	"github.com/rotor-rt/rotor/pubsub/structure"
	"github.com/rotor-rt/rotor/views"
)

func TestNamespaceView(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   structure.Namespace
		want views.Namespace
	}{
		{"zero", structure.Namespace{}, views.Namespace{HistoryTTL: "0s"}},
		{"all on", structure.Namespace{
			Name: "chat", Publish: true, Anonymous: true, Presence: true, JoinLeave: true, Watch: true,
			HistorySize: 10, HistoryTTL: 90 * time.Second,
		}, views.Namespace{
			Name: "chat", Publish: true, Anonymous: true, Presence: true, JoinLeave: true, Watch: true,
			HistorySize: 10, HistoryTTL: "1m30s",
		}},
		{"hours", structure.Namespace{Name: "news", HistoryTTL: 90 * time.Minute}, views.Namespace{Name: "news", HistoryTTL: "1h30m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := namespaceView(tc.in); got != tc.want {
				t.Errorf("namespaceView = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestProjectView(t *testing.T) {
	t.Parallel()
	p := structure.Project{
		ID: "p1", Name: "One", Secret: "s3cret", APIKey: "k3y", DefaultNamespace: "chat",
		AuthURL: "https://a.example/auth", PublishHookURL: "https://a.example/pub", EventsHookURL: "https://a.example/ev",
		AllowedOrigins: []string{"https://a.example"}, Anonymous: true,
		Namespaces: []structure.Namespace{{Name: ""}, {Name: "chat", Presence: true}},
	}
	got := projectView(p)
	want := views.Project{
		ID: "p1", Name: "One", DefaultNamespace: "chat",
		AuthURL: "https://a.example/auth", PublishHookURL: "https://a.example/pub", EventsHookURL: "https://a.example/ev",
		AllowedOrigins: []string{"https://a.example"}, Anonymous: true,
		Namespaces: []views.Namespace{{HistoryTTL: "0s"}, {Name: "chat", Presence: true, HistoryTTL: "0s"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("projectView =\n %+v\nwant\n %+v", got, want)
	}
	// The view holds its own origins: a page cannot change the project.
	got.AllowedOrigins[0] = "changed"
	if p.AllowedOrigins[0] != "https://a.example" {
		t.Error("projectView shares AllowedOrigins with the project")
	}
}

func TestDashboardView(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   nodeSummary
		want views.Dashboard
	}{
		{"no node", nodeSummary{projects: 2, err: "Node statistics are not available."},
			views.Dashboard{Projects: 2, Err: "Node statistics are not available."}},
		{"two nodes", nodeSummary{projects: 1, nodes: []pubsub.NodeInfo{
			{ID: "a", Version: "v1", Uptime: 7, Clients: 3, Subscriptions: 4, Channels: 2, PublicationsPerSec: 1.5},
			{ID: "b", Version: "v1", Uptime: 9, Clients: 1, Subscriptions: 1, Channels: 1, PublicationsPerSec: 0.25},
		}}, views.Dashboard{
			Projects: 1,
			Nodes: []views.Node{
				{ID: "a", Version: "v1", Uptime: 7, Clients: 3, Subscriptions: 4, Channels: 2, PublicationsPerSec: 1.5},
				{ID: "b", Version: "v1", Uptime: 9, Clients: 1, Subscriptions: 1, Channels: 1, PublicationsPerSec: 0.25},
			},
			Totals: views.Totals{Clients: 4, Channels: 3, PublicationsPerSec: 1.75},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := dashboardView(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("dashboardView =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func TestPresenceView(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   map[string]*pubsub.ClientInfo
		want []views.Member
	}{
		{"nil", nil, []views.Member{}},
		{"sorted by client", map[string]*pubsub.ClientInfo{
			"c2": {Client: "c2", User: "bob"},
			"c1": {Client: "c1", User: "alice", Info: json.RawMessage(`{"n":1}`)},
			"c3": nil,
		}, []views.Member{
			{Client: "c1", User: "alice", Info: `{"n":1}`},
			{Client: "c2", User: "bob"},
			{Client: "c3"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := presenceView(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("presenceView = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHistoryView(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   []*pubsub.Publication
		want []views.Publication
	}{
		{"empty", nil, []views.Publication{}},
		{"backend and client", []*pubsub.Publication{
			{Offset: 1, Data: json.RawMessage(`{"text":"<hi>"}`)},
			{Offset: 2, Data: json.RawMessage(`"x"`), Info: &pubsub.ClientInfo{Client: "c1", User: "alice"}},
			{Offset: 3, Data: json.RawMessage(`3`), Info: &pubsub.ClientInfo{Client: "c2"}},
		}, []views.Publication{
			{Offset: 1, Data: `{"text":"<hi>"}`},
			{Offset: 2, Data: `"x"`, Publisher: "alice"},
			{Offset: 3, Data: `3`},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := historyView(tc.in); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("historyView = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPositionView(t *testing.T) {
	t.Parallel()
	got := positionView(pubsub.Position{Epoch: "k3j9x0ab", Offset: 12})
	if want := (views.Position{Epoch: "k3j9x0ab", Offset: 12}); got == nil || *got != want {
		t.Errorf("positionView = %+v, want %+v", got, want)
	}
}
