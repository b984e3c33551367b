package proctest

import "syscall"

// setDeathSignal makes the kernel kill the server if the test binary dies
// without running its cleanups.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
