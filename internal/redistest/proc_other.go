//go:build !linux

package redistest

// Freeze is supported on Linux only: the test is skipped elsewhere.
func (s *Server) Freeze() { s.t.Skip("redistest: Freeze needs Linux") }

// Thaw does nothing here.
func (s *Server) Thaw() {}
