package proctest

import (
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// Restartable is a server process that a test can kill and start again
// with the same command line (outage tests): Redis, Memcached. Start runs
// it and waits until its ready probe succeeds.
type Restartable struct {
	t       testing.TB
	name    string
	bin     string
	args    []string
	dir     string
	ready   func() error
	timeout time.Duration

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	out  *Buffer
}

// NewRestartable describes a server that runs bin with args in dir and is
// up once ready returns nil; it is killed when the test ends. name labels
// failures. It does not start it: call Start.
func NewRestartable(t testing.TB, name, bin string, args []string, dir string, ready func() error, timeout time.Duration) *Restartable {
	r := &Restartable{t: t, name: name, bin: bin, args: args, dir: dir, ready: ready, timeout: timeout}
	t.Cleanup(r.Kill)
	return r
}

// Start runs the process and waits until ready succeeds, failing the test
// if the process exits first or is not ready in time.
func (r *Restartable) Start() {
	r.t.Helper()
	r.mu.Lock()
	cmd := Command(nil, r.bin, r.args...)
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = r.dir
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		r.t.Fatalf("proctest: start %s: %v", r.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	r.cmd, r.done, r.out = cmd, done, out
	r.mu.Unlock()

	deadline := time.Now().Add(r.timeout)
	for {
		err := r.ready()
		if err == nil {
			return
		}
		select {
		case <-done:
			r.t.Fatalf("proctest: %s exited at start:\n%s", r.name, out)
		default:
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("proctest: %s not up after %v: %v\n%s", r.name, r.timeout, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops the process at once (SIGKILL, with its process group) and
// waits for it to exit. Killing a stopped process does nothing.
func (r *Restartable) Kill() {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.cmd = nil
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	killGroup(cmd)
	<-done
}

// Restart starts the process again with the same command line, killing it
// first if it is running.
func (r *Restartable) Restart() {
	r.t.Helper()
	r.Kill()
	r.Start()
}

// Signal sends sig to the running process (none when it is stopped).
func (r *Restartable) Signal(sig os.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(sig)
	}
}
