package transport

import (
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/pubsub/structure"
)

// The worked example of Pusher's HTTP API documentation: app 3, key
// 278d425bdf160c739803, secret 7ad3773142a6692b25b8. Its signature was
// computed by Pusher, not by this code, so it checks the string to sign.
const (
	pusherDocKey    = "278d425bdf160c739803"
	pusherDocSecret = "7ad3773142a6692b25b8"
	pusherDocBody   = `{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}`
	pusherDocTS     = 1353088179
	pusherDocSig    = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
)

func pusherDocQuery() url.Values {
	return url.Values{
		"auth_key":       {pusherDocKey},
		"auth_timestamp": {strconv.Itoa(pusherDocTS)},
		"auth_version":   {"1.0"},
		"body_md5":       {"ec365a775a4cd0599faeb73354201b6f"},
		"auth_signature": {pusherDocSig},
	}
}

func TestPusherSignature(t *testing.T) {
	t.Parallel()
	docTime := time.Unix(pusherDocTS, 0)
	tests := []struct {
		name    string
		edit    func(q url.Values)
		method  string
		path    string
		body    string
		secret  string
		now     time.Time
		wantErr string
	}{
		{name: "documented example", now: docTime},
		{name: "clock 599s ahead", now: docTime.Add(599 * time.Second)},
		{name: "clock 599s behind", now: docTime.Add(-599 * time.Second)},
		{name: "upper-case hex signature", now: docTime, edit: func(q url.Values) { q.Set("auth_signature", strings.ToUpper(pusherDocSig)) }},
		{name: "stale timestamp", now: docTime.Add(601 * time.Second), wantErr: "timestamp expired"},
		{name: "timestamp from the future", now: docTime.Add(-601 * time.Second), wantErr: "timestamp expired"},
		{name: "wrong secret", now: docTime, secret: "not-the-secret", wantErr: "invalid signature"},
		{name: "wrong key", now: docTime, edit: func(q url.Values) { q.Set("auth_key", "other") }, wantErr: "unknown auth_key"},
		{name: "missing key", now: docTime, edit: func(q url.Values) { q.Del("auth_key") }, wantErr: "unknown auth_key"},
		{name: "missing timestamp", now: docTime, edit: func(q url.Values) { q.Del("auth_timestamp") }, wantErr: "auth_timestamp"},
		{name: "other auth_version", now: docTime, edit: func(q url.Values) { q.Set("auth_version", "2.0") }, wantErr: "auth_version"},
		{name: "tampered body", now: docTime, body: strings.Replace(pusherDocBody, "foo", "bar", 1), wantErr: "body_md5"},
		{name: "other path", now: docTime, path: "/apps/4/events", wantErr: "invalid signature"},
		{name: "other method", now: docTime, method: "PUT", wantErr: "invalid signature"},
		{name: "extra signed parameter missing", now: docTime, edit: func(q url.Values) { q.Set("info", "user_count") }, wantErr: "invalid signature"},
		{name: "malformed signature", now: docTime, edit: func(q url.Values) { q.Set("auth_signature", "zz") }, wantErr: "invalid signature"},
		{name: "missing signature", now: docTime, edit: func(q url.Values) { q.Del("auth_signature") }, wantErr: "invalid signature"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q := pusherDocQuery()
			if tc.edit != nil {
				tc.edit(q)
			}
			method, path, body, secret := "POST", "/apps/3/events", pusherDocBody, pusherDocSecret
			if tc.method != "" {
				method = tc.method
			}
			if tc.path != "" {
				path = tc.path
			}
			if tc.body != "" {
				body = tc.body
			}
			if tc.secret != "" {
				secret = tc.secret
			}
			err := checkPusherSignature(method, path, q, []byte(body), pusherDocKey, secret, tc.now)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("accepted, want an error with %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("error %q, want one with %q", err, tc.wantErr)
			}
		})
	}
}

func TestPusherStringToSign(t *testing.T) {
	t.Parallel()
	q := url.Values{"b": {"2"}, "A_B": {"x y"}, "a": {"1"}, "auth_signature": {"s"}, "ab": {"3"}}
	got := pusherStringToSign("post", "/apps/p/events", q)
	// Keys lower-cased and sorted by key ("a" < "a_b" < "ab"), values
	// unescaped, auth_signature left out.
	want := "POST\n/apps/p/events\na=1&a_b=x y&ab=3&b=2"
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// pusherPost signs body the way Pusher's libraries do, with key and secret
// at time ts, and posts it to path on s.
func pusherPost(t *testing.T, s *testServer, path, body, key, secret string, ts time.Time) (int, string) {
	t.Helper()
	sum := md5.Sum([]byte(body))
	q := url.Values{
		"auth_key": {key}, "auth_timestamp": {strconv.FormatInt(ts.Unix(), 10)},
		"auth_version": {"1.0"}, "body_md5": {hex.EncodeToString(sum[:])},
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(pusherStringToSign("POST", path, q)))
	q.Set("auth_signature", hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.Post(s.url+path+"?"+q.Encode(), "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPusherEndpoints(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(o *Options, _ *structure.Project) { o.MaxBody = 2048 })
	now := time.Now()
	big := strings.Repeat("x", 3000)

	tests := []struct {
		name       string
		path       string
		body       string
		secret     string
		key        string
		ts         time.Time
		wantStatus int
		wantBody   string
		// wantPubs are the Rotor data published on channel "news", in order.
		wantPubs []string
	}{
		{name: "event with JSON data", path: "/apps/p/events",
			body:       `{"name":"order.shipped","channels":["news"],"data":"{\"id\":7,\"note\":\"<b>\"}","socket_id":"123.456"}`,
			wantStatus: 200, wantBody: "{}\n", wantPubs: []string{`{"event":"order.shipped","data":{"id":7,"note":"<b>"}}`}},
		{name: "event with plain string data", path: "/apps/p/events",
			body:       `{"name":"ping","channels":["news","anon:x"],"data":"hello there"}`,
			wantStatus: 200, wantPubs: []string{`{"event":"ping","data":"hello there"}`}},
		{name: "event with non-string data", path: "/apps/p/events",
			body:       `{"name":"raw","channel":"news","data":{"a":[1,2]}}`,
			wantStatus: 200, wantPubs: []string{`{"event":"raw","data":{"a":[1,2]}}`}},
		{name: "batch", path: "/apps/p/batch_events",
			body:       `{"batch":[{"name":"a","channel":"news","data":"1"},{"name":"b","channel":"anon:x","data":"2"},{"name":"c","channel":"news","data":"\"three\""}]}`,
			wantStatus: 200, wantBody: "{}\n", wantPubs: []string{`{"event":"a","data":1}`, `{"event":"c","data":"three"}`}},
		{name: "wrong secret", path: "/apps/p/events", secret: "wrong",
			body: `{"name":"x","channels":["news"],"data":"1"}`, wantStatus: 401, wantBody: "invalid signature"},
		{name: "stale timestamp", path: "/apps/p/events", ts: now.Add(-11 * time.Minute),
			body: `{"name":"x","channels":["news"],"data":"1"}`, wantStatus: 401, wantBody: "timestamp expired"},
		{name: "key of another project", path: "/apps/p/events", key: "other", secret: "other-api-key",
			body: `{"name":"x","channels":["news"],"data":"1"}`, wantStatus: 401, wantBody: "unknown auth_key"},
		{name: "unknown app", path: "/apps/nope/events", key: "nope",
			body: `{"name":"x","channels":["news"],"data":"1"}`, wantStatus: 404, wantBody: "Unknown app"},
		{name: "malformed JSON", path: "/apps/p/events", body: `{"name":`, wantStatus: 400, wantBody: "Invalid JSON"},
		{name: "no name", path: "/apps/p/events", body: `{"channels":["news"],"data":"1"}`, wantStatus: 400, wantBody: "Missing event name"},
		{name: "no channels", path: "/apps/p/events", body: `{"name":"x","data":"1"}`, wantStatus: 400, wantBody: "Missing channels"},
		{name: "no data", path: "/apps/p/events", body: `{"name":"x","channels":["news"]}`, wantStatus: 400, wantBody: "Missing data"},
		{name: "unknown namespace publishes nothing", path: "/apps/p/events",
			body: `{"name":"x","channels":["news","nope:y"],"data":"1"}`, wantStatus: 400, wantBody: "Invalid channel \"nope:y\""},
		{name: "bad batch item publishes nothing", path: "/apps/p/batch_events",
			body: `{"batch":[{"name":"a","channel":"news","data":"1"},{"name":"b","data":"2"}]}`, wantStatus: 400, wantBody: "Batch event 1"},
		{name: "empty batch", path: "/apps/p/batch_events", body: `{"batch":[]}`, wantStatus: 400, wantBody: "Missing batch"},
		{name: "data over max_body", path: "/apps/p/events",
			body: `{"name":"x","channels":["news"],"data":"` + big[:2040] + `"}`, wantStatus: 413, wantBody: "too large"},
		{name: "body over max_body", path: "/apps/p/events",
			body: `{"name":"x","channels":["news"],"data":"` + big + big + big + `"}`, wantStatus: 413, wantBody: "too large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Not parallel: each case reads what it published on "news".
			var before historyReply
			s.api("history", map[string]any{"channel": "news", "limit": 0}, &before)
			key, secret, ts := "p", "p-api-key", now
			if tc.key != "" {
				key = tc.key
			}
			if tc.secret != "" {
				secret = tc.secret
			}
			if !tc.ts.IsZero() {
				ts = tc.ts
			}
			status, body := pusherPost(t, s, tc.path, tc.body, key, secret, ts)
			if status != tc.wantStatus || !strings.Contains(body, tc.wantBody) {
				t.Fatalf("got %d %q, want %d with %q", status, body, tc.wantStatus, tc.wantBody)
			}
			var after historyReply
			s.api("history", map[string]any{"channel": "news", "since": map[string]any{"epoch": before.Result.Epoch, "offset": before.Result.Offset}}, &after)
			// Compare values: the history answer escapes <, > and &.
			var got, want []any
			for _, p := range after.Result.Publications {
				got = append(got, decode[any](t, string(p.Data)))
			}
			for _, w := range tc.wantPubs {
				want = append(want, decode[any](t, w))
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("published %q, want %q", got, tc.wantPubs)
			}
		})
	}
}

// historyReply is the server API's answer to history.
type historyReply struct {
	Result struct {
		Publications []struct {
			Data json.RawMessage `json:"data"`
		} `json:"publications"`
		Epoch  string `json:"epoch"`
		Offset uint64 `json:"offset"`
	} `json:"result"`
}

// FuzzPusherEvents sends arbitrary, correctly signed bodies to both Pusher
// endpoints through the real router: never a panic, never a 5xx, only the
// statuses Pusher's API documents.
func FuzzPusherEvents(f *testing.F) {
	s := startServer(f, func(o *Options, _ *structure.Project) { o.Limits.APIRate = 0 })
	for _, seed := range []string{
		`{"name":"a","channels":["news"],"data":"{\"x\":1}"}`,
		`{"name":"a","channel":"anon:x","data":"plain"}`,
		`{"name":"a","channels":["news","nope:x"],"data":1}`,
		`{"batch":[{"name":"a","channel":"news","data":"1"}]}`,
		`{"batch":[{"name":"","channel":"news"}]}`,
		`{"name":"a","channels":[],"data":null}`,
		`[]`, `null`, ``,
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, body string, batch bool) {
		path := "/apps/p/events"
		if batch {
			path = "/apps/p/batch_events"
		}
		sum := md5.Sum([]byte(body))
		q := url.Values{
			"auth_key": {"p"}, "auth_timestamp": {strconv.FormatInt(time.Now().Unix(), 10)},
			"auth_version": {"1.0"}, "body_md5": {hex.EncodeToString(sum[:])},
		}
		mac := hmac.New(sha256.New, []byte("p-api-key"))
		mac.Write([]byte(pusherStringToSign("POST", path, q)))
		q.Set("auth_signature", hex.EncodeToString(mac.Sum(nil)))
		req := httptest.NewRequest(http.MethodPost, path+"?"+q.Encode(), strings.NewReader(body))
		rec := serve(s, req)
		switch rec.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}
