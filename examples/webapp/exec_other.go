//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// execSQL runs the SQL demo and waits for it; Ctrl-C in the console
// reaches both processes.
func execSQL(bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	return cmd.Run()
}
