//go:build !linux

package memcachedtest

import "os/exec"

// setProcAttr does nothing here: t.Cleanup kills the servers.
func setProcAttr(*exec.Cmd) {}
