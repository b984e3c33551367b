package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session/internal/proctest"
)

// Sentinel is a group of redis-server processes running as Sentinels that
// monitor one master under the name MasterName.
type Sentinel struct {
	// Addr is the first Sentinel's host:port.
	Addr string
	// Addrs are every Sentinel's host:port.
	Addrs []string
	// MasterName is the name the master is monitored under.
	MasterName string
	// Servers are the Sentinels' processes.
	Servers []*Server
}

// StartSentinel starts one Sentinel (redis-server --sentinel) on a free
// loopback port monitoring master as "mymaster" (quorum 1, master down after
// 5 s), and waits until it reports the master's address.
func StartSentinel(t testing.TB, master *Server) *Sentinel {
	t.Helper()
	return StartSentinels(t, master, 1, 1, 5*time.Second)
}

// StartSentinels starts n Sentinels monitoring master as "mymaster" with the
// given quorum, judging the master down after downAfter without a reply
// (a failover then takes about downAfter plus a second or two), and waits
// until each reports the master's address.
func StartSentinels(t testing.TB, master *Server, n, quorum int, downAfter time.Duration) *Sentinel {
	t.Helper()
	bin, _ := binaries(t)
	_, masterPort, _ := net.SplitHostPort(master.Addr)
	sn := &Sentinel{MasterName: "mymaster"}
	for range n {
		dir := t.TempDir()
		port := proctest.FreePort(t)
		conf := filepath.Join(dir, "sentinel.conf")
		cfg := fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\n"+
			"sentinel monitor mymaster 127.0.0.1 %s %d\n"+
			"sentinel down-after-milliseconds mymaster %d\n"+
			"sentinel failover-timeout mymaster %d\n",
			port, dir, masterPort, quorum, downAfter.Milliseconds(), max(4*downAfter, 3*time.Second).Milliseconds())
		if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
			t.Fatalf("redistest: sentinel config: %v", err)
		}
		s := launch(t, bin, port, dir, []string{conf, "--sentinel"})
		s.start()
		waitSentinel(t, s.Addr, masterPort)
		sn.Addrs = append(sn.Addrs, s.Addr)
		sn.Servers = append(sn.Servers, s)
	}
	sn.Addr = sn.Addrs[0]
	return sn
}

// waitSentinel waits until the Sentinel at addr reports the master on
// masterPort.
func waitSentinel(t testing.TB, addr, masterPort string) {
	t.Helper()
	c := redis.NewSentinelClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := c.GetMasterAddrByName(ctx, "mymaster").Result()
		cancel()
		if err == nil && len(got) == 2 && got[1] == masterPort {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: sentinel %s does not report the master: %v %v", addr, got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// MasterAddr asks the Sentinels for the current master's address.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, a := range s.Addrs {
		c := redis.NewSentinelClient(&redis.Options{Addr: a})
		got, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
		_ = c.Close()
		if err == nil && len(got) == 2 {
			return net.JoinHostPort(got[0], got[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("redistest: no sentinel reports the master: %w", last)
}

// FailoverClient returns a Sentinel-backed client (redis.NewFailoverClient)
// for the monitored master, closed at the end of the test.
func (s *Sentinel) FailoverClient(t testing.TB) *redis.Client {
	t.Helper()
	addrs := s.Addrs
	if len(addrs) == 0 {
		addrs = []string{s.Addr}
	}
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: addrs})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// StartReplica starts a redis-server replicating master on a free loopback
// port and waits until its link to the master is up.
func StartReplica(t testing.TB, master *Server) *Server {
	t.Helper()
	bin, _ := binaries(t)
	host, port, _ := net.SplitHostPort(master.Addr)
	r := newServer(t, bin, proctest.FreePort(t), t.TempDir(), "--replicaof", host, port)
	r.start()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.Info(ctx, "replication").Result()
		cancel()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: replica %s of %s not in sync: %v\n%s", r.Addr, master.Addr, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
