//go:build !unix

package proctest

import "os/exec"

func setProcAttr(*exec.Cmd, *Account) {}

func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func pauseGroup(*exec.Cmd, bool) bool { return false }
