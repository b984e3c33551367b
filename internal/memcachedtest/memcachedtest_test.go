package memcachedtest_test

import (
	"net"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/memcachedtest"
)

// TestServer starts a server, reads its statistics, and kills and restarts
// it on the same port: what the store tests rely on.
func TestServer(t *testing.T) {
	s := memcachedtest.Start(t, memcachedtest.Options{MemoryMB: 8, ItemSize: "2m"})
	st := s.Stats(t)
	if st["limit_maxbytes"] != 8<<20 {
		t.Fatalf("limit_maxbytes %d, want 8 MB (-m 8)", st["limit_maxbytes"])
	}
	if _, ok := st["cmd_get"]; !ok {
		t.Fatalf("stats without cmd_get: %v", st)
	}
	s.Kill()
	if c, err := net.DialTimeout("tcp", s.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("the killed server still accepts connections")
	}
	s.Restart()
	if s.Stats(t)["curr_items"] != 0 {
		t.Fatal("a restarted server is not empty")
	}
}
