package redistest

import "syscall"

// Freeze stops the server process (SIGSTOP) until Thaw: its connections stay
// open but it answers nothing, as a server stalled by a long command, a
// swapping host or a network partition would.
func (s *Server) Freeze() { s.proc.Signal(syscall.SIGSTOP) }

// Thaw resumes a server stopped by Freeze (SIGCONT).
func (s *Server) Thaw() { s.proc.Signal(syscall.SIGCONT) }
