// Package redistest starts private redis-server processes for tests: a single
// server that can be killed and restarted on the same port (outage tests), a
// Sentinel monitoring it, and a three-master Redis Cluster. Servers listen on free loopback ports, keep no
// data on disk (--save "" --appendonly no) and are killed when the test ends.
//
// When redis-server is not installed the test is skipped with a message, or
// fails when SESSION_TEST_REQUIRE_REAL=1 (set by CI).
package redistest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session/internal/proctest"
)

// RequireRealEnv is the environment variable that turns a missing
// redis-server into a test failure instead of a skip.
const RequireRealEnv = proctest.RequireRealEnv

// startTimeout bounds how long a server or cluster may take to come up.
const startTimeout = 20 * time.Second

// binaries returns the paths of redis-server and redis-cli, or skips (or
// fails, under SESSION_TEST_REQUIRE_REAL=1) when they are not installed.
func binaries(t testing.TB) (server, cli string) {
	t.Helper()
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err1 == nil && err2 == nil {
		return server, cli
	}
	proctest.Missing(t, "redis-server/redis-cli not found on PATH: skipping the test against a real Redis "+
		"(install the Debian package redis-server)")
	return "", ""
}

// Server is one redis-server process.
type Server struct {
	// Addr is the server's host:port.
	Addr string

	t    testing.TB
	proc *proctest.Restartable
}

// StartServer starts a standalone redis-server on a free loopback port and
// waits until it answers PING. It is killed at the end of the test.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin, _ := binaries(t)
	s := newServer(t, bin, proctest.FreePort(t), t.TempDir())
	s.start()
	return s
}

func newServer(t testing.TB, bin string, port int, dir string, extra ...string) *Server {
	args := append([]string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", "",
	}, extra...)
	return launch(t, bin, port, dir, args)
}

// launch describes a redis-server (or Sentinel) process on port, up once it
// answers PING.
func launch(t testing.TB, bin string, port int, dir string, args []string) *Server {
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t}
	s.proc = proctest.NewRestartable(t, "redis-server on "+s.Addr, bin, args, dir, s.ping, startTimeout)
	return s
}

// ping is the readiness probe: one PING.
func (s *Server) ping() error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// start runs the process and waits until it answers PING.
func (s *Server) start() {
	s.t.Helper()
	s.proc.Start()
}

// Kill stops the server at once (SIGKILL) and waits for it to exit. Killing
// a stopped server does nothing.
func (s *Server) Kill() { s.proc.Kill() }

// Restart starts the server again on the same port (killing it first if it
// is running). Its data is gone: it keeps nothing on disk.
func (s *Server) Restart() {
	s.t.Helper()
	s.proc.Restart()
}

// Cluster is a Redis Cluster of three masters, no replicas.
type Cluster struct {
	// Addrs are the host:port of the masters.
	Addrs []string
	// Servers are the masters' processes.
	Servers []*Server
}

// StartCluster starts three redis-server processes with --cluster-enabled
// yes on free loopback ports, joins them with redis-cli --cluster create and
// waits until every node reports cluster_state:ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin, cli := binaries(t)
	cl := &Cluster{}
	for range 3 {
		dir := t.TempDir()
		s := newServer(t, bin, proctest.FreePort(t), dir,
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-port", strconv.Itoa(proctest.FreePort(t)),
			"--cluster-node-timeout", "5000",
		)
		s.start()
		cl.Servers = append(cl.Servers, s)
		cl.Addrs = append(cl.Addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, cl.Addrs...)
	args = append(args, "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range cl.Addrs {
		waitClusterOK(t, addr)
	}
	return cl
}

// waitClusterOK waits until the node at addr reports cluster_state:ok.
func waitClusterOK(t testing.TB, addr string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	var info string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		v, err := c.ClusterInfo(ctx).Result()
		cancel()
		info = v
		if err == nil && strings.Contains(v, "cluster_state:ok") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster node %s not ok after %v: %v\n%s", addr, startTimeout, err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns a ClusterClient for the cluster, closed at the end of the
// test.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs})
	t.Cleanup(func() { _ = cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	// Make sure every node is known and routable before the test starts.
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		return n.Ping(ctx).Err()
	}); err != nil {
		t.Fatalf("redistest: cluster client: %v", err)
	}
	return cc
}

// Client returns a client for the server, closed at the end of the test.
func (s *Server) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// String describes the server, for test logs.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s", s.Addr) }
