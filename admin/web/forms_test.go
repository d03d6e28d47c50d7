package web_test

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/admin/web"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// postRaw posts body with the given Content-Type ("" sends none) as a
// same-origin page would.
func (e *env) postRaw(path, contentType, body string) (*http.Response, string) {
	e.t.Helper()
	req, _ := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Origin", e.srv.URL)
	return e.do(req)
}

// formFixture stores a project with every setting away from its zero
// value, so a wiped field shows.
func formFixture(t *testing.T, e *env) {
	t.Helper()
	w := e.store.(web.Writer)
	if err := w.CreateProject(t.Context(), &structure.Project{ID: "p", Name: "P",
		AuthURL: "https://app.example/auth", PublishHookURL: "https://app.example/moderate",
		EventsHookURL: "https://app.example/events", AllowedOrigins: []string{"https://a.example", "https://b.example"},
		Anonymous: true}); err != nil {
		t.Fatal(err)
	}
	if err := w.CreateNamespace(t.Context(), "p", structure.Namespace{Name: "room", Publish: true, Presence: true,
		JoinLeave: true, HistorySize: 10, HistoryTTL: time.Minute, Watch: true}); err != nil {
		t.Fatal(err)
	}
}

// snapshot returns the whole structure.
func snapshot(t *testing.T, e *env) []structure.Project {
	t.Helper()
	list, err := e.store.Projects(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestFormBodiesRefused: a body the server cannot read as a form is
// refused with a message on every form endpoint, and nothing changes.
func TestFormBodiesRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login()
	formFixture(t, e)
	const form = "application/x-www-form-urlencoded"
	endpoints := []string{"/admin/projects", "/admin/projects/p", "/admin/projects/p/namespaces",
		"/admin/projects/p/namespaces/room", "/admin/projects/p/channels", "/admin/login"}
	bodies := []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"malformed escape", form, "name=%zz&auth_url=&history_size=", 400, "could not be read"},
		{"JSON", "application/json", `{"name":"x","auth_url":""}`, 400, "must be a form"},
		{"JSON with a charset", "application/json; charset=utf-8", `{"name":"x"}`, 400, "must be a form"},
		{"multipart", "multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--x--\r\n", 400, "must be a form"},
		{"no content type", "", "name=x", 400, "must be a form"},
		{"bad content type", "text/plain;;", "name=x", 400, "must be a form"},
		{"oversize", form, "name=" + strings.Repeat("a", 1<<20), 413, "larger than"},
	}
	for _, path := range endpoints {
		for _, b := range bodies {
			t.Run(path+"/"+b.name, func(t *testing.T) {
				before := snapshot(t, e)
				res, body := e.postRaw(path, b.contentType, b.body)
				if res.StatusCode != b.status || !strings.Contains(body, b.want) {
					t.Errorf("status %d, want %d with %q; body %.300s", res.StatusCode, b.status, b.want, body)
				}
				if after := snapshot(t, e); !reflect.DeepEqual(before, after) {
					t.Errorf("a refused body changed the structure:\n before %+v\n after  %+v", before, after)
				}
			})
		}
	}
}

// TestFormPartialUpdates: an update changes only the fields it sends. A
// field sent empty clears its setting; a check box the page rendered and
// the user left unchecked arrives as its hidden "off"; a body with none of
// the form's fields (JSON labelled as a form) changes nothing.
func TestFormPartialUpdates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.login()
	formFixture(t, e)
	const projectPath, nsPath = "/admin/projects/p", "/admin/projects/p/namespaces/room"
	for _, tc := range []struct {
		name, path string
		form       url.Values
		raw        string // sent as is instead of form
		status     int
		change     func(p *structure.Project) // applied to the expected project
	}{
		{"name only", projectPath, url.Values{"name": {"Renamed"}}, "", 303,
			func(p *structure.Project) { p.Name = "Renamed" }},
		{"box unchecked in the page", projectPath, url.Values{"anonymous": {"off"}}, "", 303,
			func(p *structure.Project) { p.Anonymous = false }},
		{"box checked in the page", projectPath, url.Values{"anonymous": {"off", "on"}}, "", 303,
			func(p *structure.Project) { p.Anonymous = true }},
		{"field sent empty clears", projectPath, url.Values{"auth_url": {""}}, "", 303,
			func(p *structure.Project) { p.AuthURL = "" }},
		{"origins", projectPath, url.Values{"allowed_origins": {"https://c.example"}}, "", 303,
			func(p *structure.Project) { p.AllowedOrigins = []string{"https://c.example"} }},
		{"JSON labelled as a form", projectPath, nil, `{"name":"","publish_hook_url":"","allowed_origins":[]}`, 303, nil},
		{"empty body", projectPath, nil, "", 303, nil},
		{"unknown box value", projectPath, url.Values{"anonymous": {"yes"}, "name": {"X"}}, "", 400, nil},
		{"history size only", nsPath, url.Values{"history_size": {"20"}}, "", 303,
			func(p *structure.Project) { p.Namespaces[1].HistorySize = 20 }},
		{"presence unchecked", nsPath, url.Values{"presence": {"off"}}, "", 303,
			func(p *structure.Project) { p.Namespaces[1].Presence = false }},
		{"anonymous checked", nsPath, url.Values{"anonymous": {"off", "on"}}, "", 303,
			func(p *structure.Project) { p.Namespaces[1].Anonymous = true }},
		{"namespace JSON labelled as a form", nsPath, nil, `{"presence":false,"history_size":0}`, 303, nil},
		{"bad namespace box", nsPath, url.Values{"watch": {"maybe"}, "history_size": {"3"}}, "", 400, nil},
		{"unknown namespace", "/admin/projects/p/namespaces/nope", url.Values{"presence": {"on"}}, "", 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, e)
			if len(before) != 1 || len(before[0].Namespaces) != 2 || before[0].Namespaces[1].Name != "room" {
				t.Fatalf("fixture: %+v", before)
			}
			body := tc.raw
			if tc.form != nil {
				body = tc.form.Encode()
			}
			res, page := e.postRaw(tc.path, "application/x-www-form-urlencoded", body)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; %.300s", res.StatusCode, tc.status, page)
			}
			if tc.status == http.StatusBadRequest && !strings.Contains(page, "must be on or off") {
				t.Errorf("the page does not say what is wrong with the box: %.2000s", page)
			}
			want := before[0]
			want.AllowedOrigins = slices.Clone(want.AllowedOrigins)
			want.Namespaces = slices.Clone(want.Namespaces)
			if tc.change != nil {
				tc.change(&want)
			}
			if after := snapshot(t, e); !reflect.DeepEqual(after, []structure.Project{want}) {
				t.Errorf("after the update:\n got  %+v\n want %+v", after, want)
			}
		})
	}
}
