//go:build !linux

package redistest

import "os/exec"

// setProcAttr does nothing here: t.Cleanup kills the servers.
func setProcAttr(*exec.Cmd) {}

// Freeze is supported on Linux only: the test is skipped elsewhere.
func (s *Server) Freeze() { s.t.Skip("redistest: Freeze needs Linux") }

// Thaw does nothing here.
func (s *Server) Thaw() {}
