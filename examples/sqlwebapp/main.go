// Command sqlwebapp is the sessionkit demo (examples/webapp) on an SQL
// store, with the audit trail on. It is a module of its own so that the
// library's go.mod gains no database driver; examples/webapp runs it when
// DATABASE_URL is set. Flags as examples/webapp's (-addr, -idle,
// -absolute, -user).
//
//	DATABASE_URL=postgres://user:pass@127.0.0.1:5432/app go run .
//	DATABASE_URL='mysql://user:pass@tcp(127.0.0.1:3306)/app' go run .
//	DATABASE_URL=sqlite:sessions.db go run .
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/sessionkit/session/examples/webapp/app"
	"github.com/sessionkit/session/sqlstore"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sqlwebapp:", err)
		os.Exit(1)
	}
}

// open opens the database a DATABASE_URL names: postgres://...,
// mysql://<go-sql-driver DSN> or sqlite:<path>.
func open(url string) (*sql.DB, sqlstore.Dialect, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := sql.Open("pgx", url)
		return db, sqlstore.Postgres, err
	case strings.HasPrefix(url, "mysql://"):
		db, err := sql.Open("mysql", strings.TrimPrefix(url, "mysql://"))
		return db, sqlstore.MySQL, err
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(url, "sqlite:")
		db, err := sql.Open("sqlite", path)
		if err == nil && (path == ":memory:" || path == "") {
			db.SetMaxOpenConns(1)
		}
		return db, sqlstore.SQLite, err
	}
	return nil, 0, errors.New("DATABASE_URL must start with postgres://, mysql:// or sqlite")
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	idle := flag.Duration("idle", 30*time.Minute, "idle timeout of a session")
	absolute := flag.Duration("absolute", 8*time.Hour, "absolute timeout of a session")
	user := flag.String("user", "demo", "demo user name")
	flag.Parse()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return errors.New("set DATABASE_URL (postgres://..., mysql://..., sqlite:path)")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	db, d, err := open(url)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := sqlstore.New(db, d, sqlstore.WithLogger(logger), sqlstore.WithAuditRetention(90*24*time.Hour))
	if err != nil {
		return err
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = st.Migrate(ctx)
	cancel()
	if err != nil {
		return err
	}

	password := os.Getenv("DEMO_PASSWORD")
	if password == "" {
		password = rand.Text()
	}
	a, err := app.New(app.Config{Store: st, OnEvent: st.Audit, IdleTimeout: *idle, AbsoluteTimeout: *absolute,
		User: *user, Password: password, Logger: logger})
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("sessionkit demo on http://%s/ (sessions: %s, audit trail in session_audit)\n", ln.Addr(), d)
	fmt.Printf("log in as %q with password %q\n", *user, password)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills the process at once
	return a.Serve(ctx, ln)
}
