//go:build unix

package main

import (
	"os"
	"syscall"
)

// execSQL replaces this process with the SQL demo, so that signals (Ctrl-C,
// SIGTERM) reach it directly.
func execSQL(bin string, args ...string) error {
	return syscall.Exec(bin, append([]string{bin}, args...), os.Environ())
}
