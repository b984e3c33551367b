// Package proctest runs private server processes for tests (PostgreSQL,
// MariaDB): it finds their binaries, picks free ports, runs them as an
// unprivileged user when the tests run as root, waits for the line that
// says they are ready, and kills them when the test ends.
//
// A missing binary skips the test with a message, or fails it when
// SESSION_TEST_REQUIRE_REAL=1 (set by CI).
package proctest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// RequireRealEnv is the environment variable that turns a missing server
// binary into a test failure instead of a skip.
const RequireRealEnv = "SESSION_TEST_REQUIRE_REAL"

// Find returns the path of the first of names found on PATH or in dirs
// (glob patterns, the newest match first), or "".
func Find(names []string, dirs ...string) string {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	for _, pat := range dirs {
		matches, _ := filepath.Glob(pat)
		slices.SortFunc(matches, func(a, b string) int { return -naturalCompare(a, b) })
		for _, dir := range matches {
			for _, n := range names {
				p := filepath.Join(dir, n)
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
					return p
				}
			}
		}
	}
	return ""
}

// naturalCompare orders directories such as /usr/lib/postgresql/15/bin by
// their numeric version (9 < 15).
func naturalCompare(a, b string) int {
	na, ea := strconv.Atoi(filepath.Base(filepath.Dir(a)))
	nb, eb := strconv.Atoi(filepath.Base(filepath.Dir(b)))
	if ea == nil && eb == nil && na != nb {
		return na - nb
	}
	return strings.Compare(a, b)
}

// Missing skips the test with msg, or fails it under
// SESSION_TEST_REQUIRE_REAL=1.
func Missing(t testing.TB, msg string) {
	t.Helper()
	msg += " (" + RequireRealEnv + "=1 makes this a failure)"
	if os.Getenv(RequireRealEnv) == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proctest: free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Dir returns a new temporary directory, removed when the test ends, owned
// by account (when not nil) so that a server running as it can write.
func Dir(t testing.TB, account *Account) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sessiontest-")
	if err != nil {
		t.Fatalf("proctest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if account != nil {
		if err := os.Chown(dir, int(account.UID), int(account.GID)); err != nil {
			t.Fatalf("proctest: chown %s: %v", dir, err)
		}
	}
	return dir
}

// Account is a user a server runs as.
type Account struct{ UID, GID uint32 }

// Unprivileged returns the account named name when the tests run as root
// (servers such as PostgreSQL refuse to run as root), and nil otherwise.
func Unprivileged(t testing.TB, name string) *Account {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		Missing(t, fmt.Sprintf("running as root and there is no %q user to run the server as: %v", name, err))
		return nil
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &Account{UID: uint32(uid), GID: uint32(gid)}
}

// Command returns cmd set up to run as account (if not nil), in its own
// process group, and (on Linux) to be killed if the test binary dies
// without running its cleanups.
func Command(account *Account, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	setProcAttr(cmd, account)
	return cmd
}

// Run runs cmd to completion and fails the test with its output on error.
func Run(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("proctest: %s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
}

// Proc is a running server process.
type Proc struct {
	cmd  *exec.Cmd
	out  *Buffer
	done chan struct{}
	once sync.Once
}

// Start starts cmd and waits until its output contains ready, failing the
// test after timeout or if the process exits first. The process is killed
// (with its process group) when the test ends.
func Start(t testing.TB, cmd *exec.Cmd, ready string, timeout time.Duration) *Proc {
	t.Helper()
	p := &Proc{cmd: cmd, out: &Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("proctest: start %s: %v", cmd.Path, err)
	}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.Kill)
	deadline := time.After(timeout)
	for !strings.Contains(p.out.String(), ready) {
		select {
		case <-p.done:
			t.Fatalf("proctest: %s exited before it was ready:\n%s", cmd.Path, p.out)
		case <-deadline:
			p.Kill()
			t.Fatalf("proctest: %s not ready after %v:\n%s", cmd.Path, timeout, p.out)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return p
}

// Kill kills the process and its group and waits for it to exit.
func (p *Proc) Kill() {
	p.once.Do(func() {
		killGroup(p.cmd)
		<-p.done
	})
}

// Pause stops the process and its group (SIGSTOP): a server that still
// accepts connections in the kernel and answers nothing, as a hung or
// paused one does. Where processes cannot be stopped (not Unix) the test
// is skipped, as with a missing server (Missing). The process continues
// at Resume, or when the test ends.
func (p *Proc) Pause(t testing.TB) {
	t.Helper()
	if !pauseGroup(p.cmd, true) {
		Missing(t, "proctest: cannot pause a process on this system")
	}
	t.Cleanup(p.Resume)
}

// Resume continues a paused process (SIGCONT).
func (p *Proc) Resume() { pauseGroup(p.cmd, false) }

// Output returns what the process printed so far.
func (p *Proc) Output() string { return p.out.String() }

// Buffer collects a process's output, its first 64 KiB (enough to explain
// a failure); safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.b.Len() > 64<<10 {
		return len(p), nil
	}
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
