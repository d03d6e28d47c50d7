package enginestore

import (
	"bytes"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rotor-rt/rotor/admin/sqlite"
	"github.com/rotor-rt/rotor/pubsub/redis"
	"github.com/rotor-rt/rotor/pubsub/redis/redistest"
	"github.com/rotor-rt/rotor/pubsub/structure"
)

var _ Writer = (*redis.Structure)(nil)

var prefixSeq atomic.Int64

// newEngine returns the structure part of a Redis engine on srv with a
// prefix of its own.
func newEngine(t *testing.T, srv *redistest.Server) *redis.Structure {
	t.Helper()
	e, err := redis.New(redis.Options{
		URL: srv.URL(), Prefix: fmt.Sprintf("es%d", prefixSeq.Add(1)), Timeout: 500 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e.Structure()
}

func openSQLite(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "rotor.db")
	}
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func eventually(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	good := structure.Project{ID: "p", Secret: strings.Repeat("s", 32), APIKey: "k", DefaultNamespace: "default",
		Namespaces: []structure.Namespace{structure.DefaultNamespaceSettings("default")}}
	bad := good
	bad.Secret = "short"
	enc := func(s Snapshot) string {
		b, err := Encode(&s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, tc := range []struct {
		name, data, want string
	}{
		{"not json", "{", "decode structure snapshot"},
		{"other format", `{"format":2,"version":1}`, "format 2"},
		{"no version", enc(Snapshot{Projects: []structure.Project{good}}), "version 0"},
		{"invalid project", enc(Snapshot{Version: 3, Projects: []structure.Project{bad}}), "secret: must be at least 32 bytes"},
		{"duplicate project", enc(Snapshot{Version: 3, Projects: []structure.Project{good, good}}), "duplicate id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tc.data))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode = %v, want an error with %q", err, tc.want)
			}
		})
	}
	s, err := Decode([]byte(enc(Snapshot{Version: 7, Owner: "o", Node: "n", Projects: []structure.Project{good}})))
	if err != nil || s.Version != 7 || s.Owner != "o" || len(s.Projects) != 1 || s.Projects[0].Secret != good.Secret {
		t.Fatalf("round trip = %+v, %v", s, err)
	}
}

// TestOwnerToReader runs the whole path on a real Redis: a reader started
// before any snapshot waits, the owner's writes reach it, a restart of
// the owner does not bump the version, and a wiped Redis gets the
// snapshot back.
func TestOwnerToReader(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	e := newEngine(t, srv)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "rotor.db")
	owner := openSQLite(t, path)

	// The reader starts first and waits.
	readerLog := &logBuffer{}
	opened := make(chan *Store, 1)
	go func() {
		s, err := Open(ctx, e, readerLog.logger())
		if err != nil {
			t.Error(err)
		}
		opened <- s
	}()
	eventually(t, 5*time.Second, "reader logs that it waits", func() bool {
		return strings.Contains(readerLog.String(), "waiting for the structure snapshot")
	})
	select {
	case <-opened:
		t.Fatal("Open returned with no snapshot in the engine")
	case <-time.After(300 * time.Millisecond):
	}

	pub := NewPublisher(owner, e, "owner-host (node a)", nil)
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	var reader *Store
	select {
	case reader = <-opened:
	case <-time.After(5 * time.Second):
		t.Fatal("reader still waiting after the owner wrote a snapshot")
	}
	if !reader.ReadOnly() || reader.OwnerNode() != "owner-host (node a)" || reader.Version() != owner.Version() {
		t.Fatalf("reader: read-only %v, owner %q, version %d (owner has %d)", reader.ReadOnly(), reader.OwnerNode(), reader.Version(), owner.Version())
	}
	var changes atomic.Int64
	go reader.Run(ctx, func() { changes.Add(1) })

	// A write on the owner, published and announced: the reader has it.
	p := &structure.Project{ID: "shop", Name: "Shop"}
	if err := owner.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	reader.Invalidate()
	eventually(t, time.Second, "reader has the new project", func() bool {
		got, err := reader.Project(ctx, "shop")
		return err == nil && got.APIKey == p.APIKey && got.Secret == p.Secret
	})
	// A write published without a notice (one lost in a reconnect) still
	// arrives, by the reader's own look.
	ns := structure.DefaultNamespaceSettings("default")
	ns.Presence = true
	if err := owner.UpdateNamespace(ctx, "shop", ns); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*PollInterval+time.Second, "reader has presence on", func() bool {
		got, err := reader.Project(ctx, "shop")
		return err == nil && got.Namespaces[0].Presence
	})
	if changes.Load() < 2 {
		t.Fatalf("changed called %d times, want at least 2", changes.Load())
	}

	// The owner restarts: same file, same version, nothing written.
	version := owner.Version()
	again := NewPublisher(openSQLite(t, path), e, "owner-host (node b)", nil)
	written, err := again.publish(ctx)
	if err != nil || written {
		t.Fatalf("restarted owner: written %v, err %v; want nothing written", written, err)
	}
	if v, _, err := e.StructureHead(ctx); err != nil || v != version {
		t.Fatalf("engine version after the owner's restart = %d, %v; want %d", v, err, version)
	}

	// Redis restarts empty: the reader keeps serving, the owner writes
	// the snapshot again.
	ownerLog := &logBuffer{}
	go NewPublisher(owner, e, "owner-host (node a)", ownerLog.logger()).Run(ctx, nil)
	srv.Restart(true)
	if _, err := reader.Project(ctx, "shop"); err != nil {
		t.Fatalf("reader lost its structure with Redis: %v", err)
	}
	eventually(t, 10*time.Second, "snapshot back in the engine", func() bool {
		v, _, err := e.StructureHead(ctx)
		return err == nil && v == version
	})
	if !strings.Contains(ownerLog.String(), "missing from the engine") {
		t.Fatalf("owner did not say why it rewrote: %s", ownerLog.String())
	}
}

// TestTwoOwners: two SQLite files on one engine are reported at ERROR
// naming both nodes, and the newest version wins.
func TestTwoOwners(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	e := newEngine(t, srv)
	ctx := t.Context()
	a, b := openSQLite(t, ""), openSQLite(t, "")
	// a is two versions ahead of b.
	for _, id := range []string{"a1", "a2"} {
		if err := a.CreateProject(ctx, &structure.Project{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	logA, logB := &logBuffer{}, &logBuffer{}
	pa := NewPublisher(a, e, "host-a (node na)", logA.logger())
	pb := NewPublisher(b, e, "host-b (node nb)", logB.logger())
	if err := pa.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if err := pb.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=ERROR", "two structure owners", "host-a (node na)", "host-b (node nb)", "the other owner's version is kept"} {
		if !strings.Contains(logB.String(), want) {
			t.Fatalf("older owner's log lacks %q:\n%s", want, logB.String())
		}
	}
	if v, owner, _ := e.StructureHead(ctx); v != a.Version() || owner != a.OwnerID() {
		t.Fatalf("engine holds version %d of %q, want a's %d of %q", v, owner, a.Version(), a.OwnerID())
	}
	// b moves ahead: its newer version replaces a's, and a, when it
	// checks, says so too.
	for _, id := range []string{"b1", "b2", "b3"} {
		if err := b.CreateProject(ctx, &structure.Project{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pb.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	if v, owner, _ := e.StructureHead(ctx); v != b.Version() || owner != b.OwnerID() {
		t.Fatalf("engine holds version %d of %q, want b's %d", v, owner, b.Version())
	}
	go pa.Run(ctx, nil)
	eventually(t, 5*time.Second, "a reports b", func() bool {
		s := logA.String()
		return strings.Contains(s, "level=ERROR") && strings.Contains(s, "host-b (node nb)")
	})
	// Nothing merged: the engine holds b's projects only.
	_, _, data, err := e.GetStructure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range snap.Projects {
		ids = append(ids, p.ID)
	}
	if strings.Join(ids, ",") != "b1,b2,b3" {
		t.Fatalf("engine holds %v, want b's projects only", ids)
	}
}

// BenchmarkSnapshot encodes and decodes 100 projects of 20 namespaces and
// reports the encoded size.
func BenchmarkSnapshot(b *testing.B) {
	s := &Snapshot{Version: 1234, Owner: "0123456789abcdef", Node: "owner-host (node abcdefgh)", Written: time.Now()}
	for i := range 100 {
		p := structure.Project{
			ID: fmt.Sprintf("project-%03d", i), Name: fmt.Sprintf("Project %d", i),
			Secret: strings.Repeat("s", 43), APIKey: strings.Repeat("k", 43), DefaultNamespace: "ns-00",
			AuthURL: "https://app.example.com/rotor/auth", AllowedOrigins: []string{"https://app.example.com"},
		}
		for j := range 20 {
			ns := structure.DefaultNamespaceSettings(fmt.Sprintf("ns-%02d", j))
			ns.Presence = j%2 == 0
			p.Namespaces = append(p.Namespaces, ns)
		}
		s.Projects = append(s.Projects, p)
	}
	data, err := Encode(s)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		data, _ = Encode(s)
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(data)), "bytes/snapshot")
}

// TestOnCluster: the snapshot is one key, so it works on a Redis Cluster
// as on one server.
func TestOnCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t, 3)
	e, err := redis.New(redis.Options{URL: c.URL(), Timeout: time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	ctx := t.Context()
	owner := openSQLite(t, "")
	if err := owner.CreateProject(ctx, &structure.Project{ID: "shop"}); err != nil {
		t.Fatal(err)
	}
	if err := NewPublisher(owner, e.Structure(), "owner", nil).Publish(ctx); err != nil {
		t.Fatal(err)
	}
	reader, err := Open(ctx, e.Structure(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Project(ctx, "shop"); err != nil || reader.Version() != owner.Version() {
		t.Fatalf("reader on a Cluster: %v, version %d, want %d", err, reader.Version(), owner.Version())
	}
}
