// Package memcachedtest starts private memcached processes for tests, on a
// free loopback port, with the standard library only. A server can be killed
// and restarted on the same port (outage tests), started with a tiny memory
// limit (eviction tests), and asked for its statistics (round-trip counts).
// It is killed when the test ends.
//
// When memcached is not installed the test is skipped with a message, or
// fails when SESSION_TEST_REQUIRE_REAL=1 (set by CI).
package memcachedtest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/proctest"
)

// RequireRealEnv is the environment variable that turns a missing
// memcached into a test failure instead of a skip.
const RequireRealEnv = proctest.RequireRealEnv

// startTimeout bounds how long a server may take to come up.
const startTimeout = 20 * time.Second

// Options configure a server. The zero value is memcached's defaults.
type Options struct {
	// MemoryMB is the memory limit (-m), in megabytes; 0 keeps the
	// default (64).
	MemoryMB int
	// ItemSize is the largest item (-I), such as "1m" or "2m"; "" keeps
	// the default (1m).
	ItemSize string
	// Args are more command-line arguments, such as
	// "-o", "no_lru_maintainer" (a plain LRU: whatever was used least
	// recently is evicted first).
	Args []string
}

// Server is one memcached process.
type Server struct {
	// Addr is the server's host:port.
	Addr string

	t    testing.TB
	proc *proctest.Restartable
}

// binary returns the path of memcached, or skips (or fails, under
// SESSION_TEST_REQUIRE_REAL=1) when it is not installed.
func binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err == nil {
		return bin
	}
	proctest.Missing(t, "memcached not found on PATH: skipping the test against a real Memcached "+
		"(install the Debian package memcached)")
	return ""
}

// Start starts memcached on a free loopback port (TCP only) and waits until
// it answers. It is killed at the end of the test.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := binary(t)
	port := proctest.FreePort(t)
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0"}
	if o.MemoryMB > 0 {
		args = append(args, "-m", strconv.Itoa(o.MemoryMB))
	}
	if o.ItemSize != "" {
		args = append(args, "-I", o.ItemSize)
	}
	args = append(args, o.Args...)
	if os.Geteuid() == 0 {
		args = append(args, "-u", "root") // memcached refuses to run as root otherwise
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), t: t}
	s.proc = proctest.NewRestartable(t, "memcached on "+s.Addr, bin, args, t.TempDir(), func() error {
		_, err := s.command("version\r\n", "VERSION ")
		return err
	}, startTimeout)
	s.proc.Start()
	return s
}

// command sends one text-protocol command and reads lines until one starts
// with end, returning them all.
func (s *Server) command(cmd, end string) ([]string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return nil, err
	}
	r := bufio.NewReader(c)
	var lines []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if strings.HasPrefix(line, end) {
			return lines, nil
		}
		if strings.HasPrefix(line, "ERROR") || strings.HasPrefix(line, "CLIENT_ERROR") || strings.HasPrefix(line, "SERVER_ERROR") {
			return lines, fmt.Errorf("memcachedtest: %q: %s", strings.TrimSpace(cmd), line)
		}
	}
}

// Stats returns the server's general statistics ("stats"), such as cmd_get,
// cmd_set, cas_hits and evictions, as integers (non-numeric ones are left
// out). It fails the test when the server does not answer.
func (s *Server) Stats(t testing.TB) map[string]int64 {
	t.Helper()
	lines, err := s.command("stats\r\n", "END")
	if err != nil {
		t.Fatalf("memcachedtest: stats: %v", err)
	}
	m := make(map[string]int64, len(lines))
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "STAT" {
			continue
		}
		if n, err := strconv.ParseInt(f[2], 10, 64); err == nil {
			m[f[1]] = n
		}
	}
	return m
}

// Kill stops the server at once (SIGKILL) and waits for it to exit. Killing
// a stopped server does nothing.
func (s *Server) Kill() { s.proc.Kill() }

// Restart starts the server again on the same port (killing it first if it
// is running). Its data is gone: memcached keeps nothing on disk.
func (s *Server) Restart() {
	s.t.Helper()
	s.proc.Restart()
}

// String describes the server, for test logs.
func (s *Server) String() string { return "memcached " + s.Addr }
