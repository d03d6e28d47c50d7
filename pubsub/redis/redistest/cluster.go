package redistest

import (
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a Redis Cluster of masters without replicas, on loopback.
type Cluster struct {
	Servers []*Server
}

// StartCluster starts n (at least 3) cluster-enabled servers and joins them
// with `redis-cli --cluster create`; it skips when redis-cli is missing.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	bin := Binary(t)
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not found in PATH: install it with `apt-get install -y redis-server` (make test does)")
	}
	c := &Cluster{}
	for range n {
		s := &Server{
			t: t, bin: bin, port: clusterPort(t), dir: t.TempDir(),
			args: []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"},
		}
		if err := s.start(); err != nil {
			t.Fatalf("redistest: cluster node: %v", err)
		}
		t.Cleanup(s.Kill)
		c.Servers = append(c.Servers, s)
	}
	args := []string{"--cluster", "create"}
	for _, s := range c.Servers {
		args = append(args, s.Addr())
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(startTimeout)
	for _, s := range c.Servers {
		for {
			info, err := s.Do("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster not ok on %s: %q %v", s.Addr(), info, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return c
}

// URL lists every node as comma-separated redis:// URLs (the engine's
// Cluster form).
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = "redis://" + s.Addr()
	}
	return strings.Join(urls, ",")
}

// clusterPort picks a port whose cluster bus port (port+10000) is free too.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(30000)
		if free(p) && free(p+10000) {
			return p
		}
	}
	t.Fatal("redistest: no free port pair for a cluster node")
	return 0
}

func free(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// StartSentinel starts a Sentinel (redis-server --sentinel) watching master
// under the name "mymaster" and returns it; its URL for the engine is
// SentinelURL.
func StartSentinel(t testing.TB, master *Server) *Server {
	t.Helper()
	s := &Server{t: t, bin: Binary(t), port: FreePort(t), dir: t.TempDir(), sentinel: true}
	conf := filepath.Join(s.dir, "sentinel.conf")
	body := "sentinel monitor mymaster " + master.Addr()[:strings.LastIndex(master.Addr(), ":")] + " " +
		strconv.Itoa(master.port) + " 1\n"
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatalf("redistest: %v", err)
	}
	s.args = []string{conf, "--sentinel"}
	if err := s.start(); err != nil {
		t.Fatalf("redistest: sentinel: %v", err)
	}
	t.Cleanup(s.Kill)
	return s
}

// StartReplica starts a server replicating master (`--replicaof`).
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	return Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.port))
}

// StartSentinels starts n Sentinels watching master as "mymaster" with the
// given quorum, quick to act: the master is down after 1 s without an
// answer, and a failover may be retried after 5 s. Their engine URL is
// SentinelsURL.
func StartSentinels(t testing.TB, master *Server, n, quorum int) []*Server {
	t.Helper()
	var out []*Server
	for range n {
		s := &Server{t: t, bin: Binary(t), port: FreePort(t), dir: t.TempDir(), sentinel: true}
		conf := filepath.Join(s.dir, "sentinel.conf")
		body := "sentinel monitor mymaster 127.0.0.1 " + strconv.Itoa(master.port) + " " + strconv.Itoa(quorum) + "\n" +
			"sentinel down-after-milliseconds mymaster 1000\n" +
			"sentinel failover-timeout mymaster 5000\n"
		if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s.args = []string{conf, "--sentinel"}
		if err := s.start(); err != nil {
			t.Fatalf("redistest: sentinel: %v", err)
		}
		t.Cleanup(s.Kill)
		out = append(out, s)
	}
	return out
}

// SentinelsURL is the engine URL that finds "mymaster" through every one
// of sentinels.
func SentinelsURL(sentinels []*Server) string {
	addrs := make([]string, len(sentinels))
	for i, s := range sentinels {
		addrs[i] = s.Addr()
	}
	return "redis-sentinel://" + strings.Join(addrs, ",") + "/mymaster"
}

// SentinelURL is the engine URL that finds "mymaster" through s.
func (s *Server) SentinelURL() string { return "redis-sentinel://" + s.Addr() + "/mymaster" }
