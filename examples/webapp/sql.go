package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"
)

// runSQL runs the demo on an SQL store (DATABASE_URL): the same app, built
// from the nested module examples/sqlwebapp, which holds the database
// drivers so that the library's go.mod gains none. Like `go run
// ./examples/webapp` itself, it needs the source tree and the go command;
// on Unix the process then becomes the SQL demo (execSQL).
func runSQL(addr string, idle, absolute time.Duration, user string) error {
	_, file, _, ok := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "sqlwebapp")
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); !ok || err != nil {
		return errors.New("DATABASE_URL: the SQL demo is the module examples/sqlwebapp, which this binary cannot find: run `go run .` in examples/sqlwebapp")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	bin := filepath.Join(cache, "sessionkit", "sqlwebapp")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir, build.Stdout, build.Stderr = dir, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building examples/sqlwebapp: %w", err)
	}
	return execSQL(bin, "-addr", addr, "-idle", idle.String(), "-absolute", absolute.String(), "-user", user)
}
