// Package pgtest starts a private PostgreSQL server for tests: initdb into
// a temporary directory, then postgres on a free loopback port with its
// unix socket in that directory, trust authentication and durability off
// (fsync, synchronous_commit). When the tests run as root, both run as the
// "postgres" account, since PostgreSQL refuses to run as root. The server
// is killed and its directory removed when the test ends.
//
// The binaries are looked up on PATH, then in /usr/lib/postgresql/*/bin
// (Debian's postgresql package); when absent the test is skipped with a
// message, or fails under SESSION_TEST_REQUIRE_REAL=1.
package pgtest

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/proctest"
)

// Server is a running PostgreSQL server.
type Server struct {
	// Port is the server's loopback TCP port.
	Port int
	proc *proctest.Proc
}

// Start runs a new PostgreSQL server for the test.
func Start(t testing.TB) *Server {
	t.Helper()
	dirs := []string{"/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin"}
	initdb := proctest.Find([]string{"initdb"}, dirs...)
	if initdb == "" {
		proctest.Missing(t, "PostgreSQL's initdb not found on PATH or in /usr/lib/postgresql/*/bin: "+
			"skipping the tests against a real PostgreSQL (install the Debian package postgresql)")
	}
	postgres := filepath.Join(filepath.Dir(initdb), "postgres")
	account := proctest.Unprivileged(t, "postgres")
	dir := proctest.Dir(t, account)
	data := filepath.Join(dir, "data")
	proctest.Run(t, proctest.Command(account, initdb, "-D", data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"))
	port := proctest.FreePort(t)
	cmd := proctest.Command(account, postgres, "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB",
		"-c", "logging_collector=off", "-c", "log_min_messages=warning")
	cmd.Dir = dir
	p := proctest.Start(t, cmd, "ready to accept connections", 60*time.Second)
	return &Server{Port: port, proc: p}
}

// DSN returns a URL for database "postgres" as the superuser "postgres"
// over TCP, as pgx and lib/pq accept.
func (s *Server) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port)
}

// Kill stops the server at once (it also stops when the test ends).
func (s *Server) Kill() { s.proc.Kill() }

// Pause freezes the server (SIGSTOP to its process group): connections
// stay open and nothing answers until Resume.
func (s *Server) Pause(t testing.TB) { s.proc.Pause(t) }

// Resume unfreezes a paused server.
func (s *Server) Resume() { s.proc.Resume() }
