//go:build unix

package proctest

import (
	"os/exec"
	"syscall"
)

func setProcAttr(cmd *exec.Cmd, account *Account) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setDeathSignal(cmd.SysProcAttr)
	if account != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: account.UID, Gid: account.GID}
	}
}

func killGroup(cmd *exec.Cmd) { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

// pauseGroup stops (SIGSTOP) or continues (SIGCONT) the process, its
// group and, where the system lists them (Linux), its descendants, which
// may have left the group: PostgreSQL's backends each call setsid.
// Stopping the parent first means no child is forked after the listing.
func pauseGroup(cmd *exec.Cmd, pause bool) bool {
	sig := syscall.SIGCONT
	if pause {
		sig = syscall.SIGSTOP
	}
	if syscall.Kill(-cmd.Process.Pid, sig) != nil {
		return false
	}
	for _, pid := range descendants(cmd.Process.Pid) {
		_ = syscall.Kill(pid, sig)
	}
	return true
}
