// Package mysqltest starts a private MariaDB (or MySQL) server for tests:
// mariadb-install-db into a temporary directory, then mariadbd on a free
// loopback port with its socket in that directory, without grant tables
// (any user, no password) and with durability off. When the tests run as
// root the server runs with --user=root. It is killed and its directory
// removed when the test ends.
//
// The binaries are looked up on PATH and in /usr/sbin and /usr/bin
// (Debian's mariadb-server package); when absent the test is skipped with a
// message, or fails under SESSION_TEST_REQUIRE_REAL=1.
package mysqltest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/proctest"
)

// Server is a running MariaDB server.
type Server struct {
	// Port is the server's loopback TCP port.
	Port int
	proc *proctest.Proc
}

// Start runs a new MariaDB server for the test.
func Start(t testing.TB) *Server {
	t.Helper()
	dirs := []string{"/usr/sbin", "/usr/bin", "/usr/local/mysql/bin"}
	server := proctest.Find([]string{"mariadbd", "mysqld"}, dirs...)
	install := proctest.Find([]string{"mariadb-install-db", "mysql_install_db"}, dirs...)
	if server == "" || install == "" {
		proctest.Missing(t, "mariadbd/mariadb-install-db not found on PATH or in /usr/sbin: "+
			"skipping the tests against a real MariaDB (install the Debian package mariadb-server)")
	}
	dir := proctest.Dir(t, nil)
	data := filepath.Join(dir, "data")
	var asUser []string
	if os.Geteuid() == 0 {
		asUser = []string{"--user=root"}
	}
	proctest.Run(t, proctest.Command(nil, install, append([]string{"--no-defaults", "--datadir=" + data,
		"--auth-root-authentication-method=normal", "--skip-name-resolve"}, asUser...)...))
	port := proctest.FreePort(t)
	cmd := proctest.Command(nil, server, append([]string{"--no-defaults", "--datadir=" + data,
		"--port=" + strconv.Itoa(port), "--bind-address=127.0.0.1", "--socket=" + filepath.Join(dir, "mysqld.sock"),
		"--pid-file=" + filepath.Join(dir, "mysqld.pid"), "--skip-grant-tables", "--skip-name-resolve",
		"--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=64M",
		"--skip-log-bin", "--max-connections=300"}, asUser...)...)
	cmd.Dir = dir
	p := proctest.Start(t, cmd, "ready for connections", 60*time.Second)
	return &Server{Port: port, proc: p}
}

// DSN returns a go-sql-driver/mysql DSN for database "test" as root over
// TCP. It needs no option.
func (s *Server) DSN() string { return fmt.Sprintf("root@tcp(127.0.0.1:%d)/test", s.Port) }

// Kill stops the server at once (it also stops when the test ends).
func (s *Server) Kill() { s.proc.Kill() }

// Pause freezes the server (SIGSTOP to its process group): connections
// stay open and nothing answers until Resume.
func (s *Server) Pause(t testing.TB) { s.proc.Pause(t) }

// Resume unfreezes a paused server.
func (s *Server) Resume() { s.proc.Resume() }
