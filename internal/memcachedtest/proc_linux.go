package memcachedtest

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill memcached if the test binary dies
// without running its cleanups, so no server outlives the tests.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
