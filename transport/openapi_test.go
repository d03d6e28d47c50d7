package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/rotor-rt/rotor/docs"
	"github.com/rotor-rt/rotor/pubsub/node"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

// openAPIDoc is docs/openapi.json, with its schemas compiled as JSON
// Schema 2020-12 (the dialect of OpenAPI 3.1).
type openAPIDoc struct {
	t        *testing.T
	raw      map[string]any
	compiler *jsonschema.Compiler
}

const openAPIURL = "https://rotor.invalid/openapi.json"

func loadOpenAPI(t *testing.T) *openAPIDoc {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(docs.OpenAPI))
	if err != nil {
		t.Fatalf("docs/openapi.json: %v", err)
	}
	raw, ok := v.(map[string]any)
	if !ok || raw["openapi"] != "3.1.0" {
		t.Fatalf("docs/openapi.json is not an OpenAPI 3.1.0 document")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(openAPIURL, v); err != nil {
		t.Fatal(err)
	}
	return &openAPIDoc{t: t, raw: raw, compiler: c}
}

// pointer escapes one JSON pointer token.
func pointer(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// operation returns the operation object of method at path.
func (d *openAPIDoc) operation(path, method string) map[string]any {
	d.t.Helper()
	paths, _ := d.raw["paths"].(map[string]any)
	item, _ := paths[path].(map[string]any)
	op, _ := item[strings.ToLower(method)].(map[string]any)
	if op == nil {
		d.t.Fatalf("docs/openapi.json has no %s %s", method, path)
	}
	return op
}

// schema compiles the schema at a JSON pointer of the document.
func (d *openAPIDoc) schema(ptr string) *jsonschema.Schema {
	d.t.Helper()
	s, err := d.compiler.Compile(openAPIURL + "#" + ptr)
	if err != nil {
		d.t.Fatalf("compile %s: %v", ptr, err)
	}
	return s
}

// validate checks a JSON body against the schema at ptr.
func (d *openAPIDoc) validate(ptr string, body []byte) error {
	d.t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body %q is not JSON: %w", body, err)
	}
	if err := d.schema(ptr).Validate(inst); err != nil {
		return fmt.Errorf("body %s against %s: %w", body, ptr, err)
	}
	return nil
}

// checkResponse validates a real answer of path: its status must be
// documented and its body must match the documented schema.
func (d *openAPIDoc) checkResponse(path, method string, status int, body []byte) {
	d.t.Helper()
	op := d.operation(path, method)
	responses, _ := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(status)].(map[string]any)
	if !ok {
		d.t.Fatalf("%s %s answered %d, which docs/openapi.json does not list: %s", method, path, status, body)
	}
	ptr := "/paths/" + pointer(path) + "/" + strings.ToLower(method) + "/responses/" + strconv.Itoa(status)
	// A shared response is a reference to components/responses.
	if ref, ok := resp["$ref"].(string); ok {
		ptr = strings.TrimPrefix(ref, "#")
	}
	ptr += "/content/application~1json/schema"
	if err := d.validate(ptr, body); err != nil {
		d.t.Fatal(err)
	}
}

// checkRequest validates a request body against the documented one.
func (d *openAPIDoc) checkRequest(path string, body []byte) {
	d.t.Helper()
	d.operation(path, http.MethodPost)
	ptr := "/paths/" + pointer(path) + "/post/requestBody/content/application~1json/schema"
	if err := d.validate(ptr, body); err != nil {
		d.t.Fatal(err)
	}
}

// TestOpenAPIMatchesMethods: the document lists exactly the server API's
// methods.
func TestOpenAPIMatchesMethods(t *testing.T) {
	d := loadOpenAPI(t)
	paths, _ := d.raw["paths"].(map[string]any)
	var documented []string
	for p := range paths {
		if m, ok := strings.CutPrefix(p, "/api/"); ok && m != "{method}" && m != "openapi.json" {
			documented = append(documented, m)
		}
	}
	served := node.APIMethods()
	slices.Sort(documented)
	slices.Sort(served)
	if !slices.Equal(documented, served) {
		t.Fatalf("documented methods %v, served methods %v", documented, served)
	}
}

// TestOpenAPIAnswers calls every server API method on a real server, with
// good and bad requests, and validates each real answer (status and body)
// and each good request against docs/openapi.json.
func TestOpenAPIAnswers(t *testing.T) {
	d := loadOpenAPI(t)
	s := startServer(t, func(o *Options, _ *structure.Project) { o.MaxBody = 1024 })
	limited := startServer(t, func(o *Options, _ *structure.Project) { o.Limits.APIRate = 0.001 })

	// A subscriber, so presence, presence_stats and channels list someone.
	tok := s.token("alice")
	sse := s.openSSE(q("token", tok, "channel", "news"), nil)
	sse.next("sub")

	const key = "apikey p-api-key"
	tests := []struct {
		name   string
		srv    *testServer
		method string
		auth   string
		body   string
		// valid says the request is one the document must accept.
		valid      bool
		wantStatus int
		wantError  int // the code of a 200 answer's error; 0 for a result
	}{
		{name: "publish", method: "publish", body: `{"channel":"news","data":{"n":1}}`, valid: true, wantStatus: 200},
		{name: "publish unknown namespace", method: "publish", body: `{"channel":"nope:x","data":1}`, valid: true, wantStatus: 200, wantError: 102},
		{name: "publish without data", method: "publish", body: `{"channel":"news"}`, wantStatus: 200, wantError: 107},
		{name: "broadcast", method: "broadcast", body: `{"channels":["news","nope:x"],"data":"hi"}`, valid: true, wantStatus: 200},
		{name: "history", method: "history", body: `{"channel":"news","limit":10,"reverse":true}`, valid: true, wantStatus: 200},
		{name: "history since", method: "history", body: `{"channel":"news","since":{"epoch":"x","offset":0}}`, valid: true, wantStatus: 200},
		{name: "history off", method: "history", body: `{"channel":"nohist:x"}`, valid: true, wantStatus: 200, wantError: 108},
		{name: "presence", method: "presence", body: `{"channel":"news"}`, valid: true, wantStatus: 200},
		{name: "presence_stats", method: "presence_stats", body: `{"channel":"news"}`, valid: true, wantStatus: 200},
		{name: "channels", method: "channels", body: `{}`, valid: true, wantStatus: 200},
		{name: "channels pattern", method: "channels", body: `{"pattern":"ne*"}`, valid: true, wantStatus: 200},
		{name: "channels bad pattern", method: "channels", body: `{"pattern":"["}`, valid: true, wantStatus: 200, wantError: 107},
		{name: "info", method: "info", body: `{}`, valid: true, wantStatus: 200},
		{name: "history_remove", method: "history_remove", body: `{"channel":"news"}`, valid: true, wantStatus: 200},
		{name: "unsubscribe", method: "unsubscribe", body: `{"channel":"news","user":"alice"}`, valid: true, wantStatus: 200},
		{name: "unsubscribe without user", method: "unsubscribe", body: `{"channel":"news"}`, wantStatus: 200, wantError: 107},
		{name: "disconnect", method: "disconnect", body: `{"user":"bob","reconnect":true}`, valid: true, wantStatus: 200},
		{name: "disconnect revoke", method: "disconnect", body: `{"user":"carol"}`, valid: true, wantStatus: 200},
		{name: "batch", method: "batch", valid: true, wantStatus: 200,
			body: `{"commands":[{"method":"publish","params":{"channel":"news","data":2}},{"method":"batch"},{"method":"info"}]}`},
		{name: "admin key", method: "publish", auth: "apikey admin-key", body: `{"project":"p","channel":"news","data":3}`, valid: true, wantStatus: 200},
		{name: "admin key without project", method: "publish", auth: "apikey admin-key", body: `{"channel":"news","data":3}`, valid: true, wantStatus: 400},
		{name: "admin key unknown project", method: "info", auth: "apikey admin-key", body: `{"project":"nope"}`, valid: true, wantStatus: 404},
		{name: "project key for another project", method: "info", body: `{"project":"other"}`, valid: true, wantStatus: 401},
		{name: "no key", method: "info", auth: "-", body: `{}`, wantStatus: 401},
		{name: "wrong key", method: "info", auth: "apikey wrong", body: `{}`, wantStatus: 401},
		{name: "malformed body", method: "publish", body: `{"channel":`, wantStatus: 400},
		{name: "body too large", method: "publish", body: `{"channel":"news","data":"` + strings.Repeat("x", 6000) + `"}`, wantStatus: 413},
		{name: "unknown method", method: "nope", body: `{}`, wantStatus: 404},
		{name: "rate limited first", srv: limited, method: "info", body: `{}`, valid: true, wantStatus: 200},
		{name: "rate limited", srv: limited, method: "info", body: `{}`, valid: true, wantStatus: 429},
	}
	answered := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d.t = t
			srv := tc.srv
			if srv == nil {
				srv = s
			}
			path := "/api/" + tc.method
			if !node.IsAPIMethod(tc.method) {
				path = "/api/{method}"
			}
			if tc.valid {
				d.checkRequest(path, []byte(tc.body))
			}
			req, _ := http.NewRequest(http.MethodPost, srv.url+"/api/"+tc.method, strings.NewReader(tc.body))
			switch tc.auth {
			case "":
				req.Header.Set("Authorization", key)
			case "-":
			default:
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			d.checkResponse(path, http.MethodPost, resp.StatusCode, body)
			if resp.StatusCode == 200 && path != "/api/{method}" {
				var reply struct {
					Error *wireError `json:"error"`
				}
				_ = json.Unmarshal(body, &reply)
				got := 0
				if reply.Error != nil {
					got = reply.Error.Code
				}
				if got != tc.wantError {
					t.Fatalf("error code %d, want %d: %s", got, tc.wantError, body)
				}
				if got == 0 {
					answered[tc.method] = true
				}
			}
		})
	}
	for _, m := range node.APIMethods() {
		if !answered[m] {
			t.Errorf("no successful call of %q was validated", m)
		}
	}

	t.Run("openapi.json", func(t *testing.T) {
		d.t = t
		resp, err := http.Get(s.url + "/api/openapi.json")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(body, docs.OpenAPI) {
			t.Fatalf("GET /api/openapi.json: %d, %d bytes, want 200 and the document", resp.StatusCode, len(body))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("Content-Type %q", ct)
		}
		d.checkResponse("/api/openapi.json", http.MethodGet, resp.StatusCode, body)
	})
}

// TestOpenAPISchemasRefuse: the document's schemas are strict enough to
// catch a drift, e.g. a result with a missing or renamed field.
func TestOpenAPISchemasRefuse(t *testing.T) {
	d := loadOpenAPI(t)
	tests := []struct {
		ptr  string
		body string
	}{
		{"/components/schemas/publishReply", `{"result":{"offset":1}}`},
		{"/components/schemas/publishReply", `{"result":{"offset":1,"epoch":"e","extra":1}}`},
		{"/components/schemas/publishReply", `{"result":{"offset":-1,"epoch":"e"}}`},
		{"/components/schemas/ErrorBody", `{"error":{"code":"101","message":"x"}}`},
		{"/components/schemas/historyReply", `{"result":{"pubs":[],"epoch":"e","offset":0}}`},
		{"/components/schemas/infoReply", `{"result":{"nodes":[{"id":"n"}]}}`},
		{"/components/schemas/PublishParams", `{"channel":"news"}`},
	}
	for _, tc := range tests {
		if err := d.validate(tc.ptr, []byte(tc.body)); err == nil {
			t.Errorf("%s accepted %s", tc.ptr, tc.body)
		}
	}
}

// TestOpenAPIUnavailable: with the Redis engine's server killed, the 503
// answers of methods and of the Pusher endpoints match the document.
func TestOpenAPIUnavailable(t *testing.T) {
	d := loadOpenAPI(t)
	srv := redistest.Start(t)
	node := startNodes(t, srv.URL(), 1)[0]
	srv.Kill()
	for _, method := range []string{"publish", "history", "presence"} {
		t.Run(method, func(t *testing.T) {
			d.t = t
			body := `{"channel":"room:x","data":1}`
			req, _ := http.NewRequest(http.MethodPost, node.url+"/api/"+method, strings.NewReader(body))
			req.Header.Set("Authorization", "apikey p-api-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503: %s", resp.StatusCode, b)
			}
			d.checkResponse("/api/"+method, http.MethodPost, resp.StatusCode, b)
		})
	}
	t.Run("pusher events", func(t *testing.T) {
		status, body := pusherPost(t, node, "/apps/p/events", `{"name":"x","channels":["room:x"],"data":"1"}`, "p", "p-api-key", time.Now())
		if status != http.StatusServiceUnavailable || !strings.Contains(body, "room:x") {
			t.Fatalf("got %d %q, want 503 naming the channel", status, body)
		}
	})
}
