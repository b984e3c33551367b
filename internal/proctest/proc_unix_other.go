//go:build unix && !linux

package proctest

import "syscall"

func setDeathSignal(*syscall.SysProcAttr) {}
