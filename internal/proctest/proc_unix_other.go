//go:build unix && !linux

package proctest

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}

// descendants is not available here: pauseGroup stops the group only.
func descendants(int) []int { return nil }
