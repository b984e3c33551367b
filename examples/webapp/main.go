// Command webapp is the sessionkit demo: a small server-rendered web app
// with throttled login, a per-session counter, "your devices" with
// revocation (after the password is entered again), and a password change
// that logs out every other session before it takes effect.
//
//	go run ./examples/webapp                 # in-memory sessions on 127.0.0.1:8080
//	REDIS_URL=redis://127.0.0.1:6379/0 go run ./examples/webapp
//	DATABASE_URL=postgres://user:pass@127.0.0.1:5432/app go run ./examples/webapp
//	DATABASE_URL=sqlite:sessions.db go run ./examples/webapp   # also mysql://<DSN>
//	go run ./examples/webapp -store cookie   # sealed cookies, nothing kept on the server
//	go run ./examples/webapp -addr 127.0.0.1:9000 -idle 5m -absolute 1h
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sessionkit/session/examples/webapp/app"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "webapp:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	idle := flag.Duration("idle", 30*time.Minute, "idle timeout of a session")
	absolute := flag.Duration("absolute", 8*time.Hour, "absolute timeout of a session")
	user := flag.String("user", "demo", "demo user name")
	storeKind := flag.String("store", "", `session store: "memory", "redis" (REDIS_URL), "cookie" (SESSION_KEYS) or "sql" (DATABASE_URL); default sql when DATABASE_URL is set, else redis when REDIS_URL is set, else memory`)
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	password := os.Getenv("DEMO_PASSWORD")
	if password == "" {
		password = rand.Text() // random for each start, 128 bits
	}

	cfg := app.Config{
		IdleTimeout:     *idle,
		AbsoluteTimeout: *absolute,
		User:            *user,
		Password:        password,
		Logger:          logger,
	}
	storeName := "in-memory"
	kind := *storeKind
	switch {
	case kind != "":
	case os.Getenv("DATABASE_URL") != "":
		kind = "sql"
	case os.Getenv("REDIS_URL") != "":
		kind = "redis"
	}
	switch kind {
	case "sql":
		return runSQL(*addr, *idle, *absolute, *user)
	case "", "memory":
	case "redis":
		url := os.Getenv("REDIS_URL")
		if url == "" {
			url = "redis://127.0.0.1:6379/0"
		}
		store, where, closeStore, err := openRedis(url)
		if err != nil {
			return err
		}
		defer closeStore()
		cfg.Store, storeName = store, "Redis at "+where
	case "cookie":
		store, how, err := openCookieStore(os.Getenv("SESSION_KEYS"))
		if err != nil {
			return err
		}
		cfg.Store, storeName = store, "sealed cookies, "+how
	default:
		return fmt.Errorf("unknown -store %q: want memory, redis, cookie or sql", kind)
	}

	a, err := app.New(cfg)
	if err != nil {
		return err
	}
	defer a.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("sessionkit demo on http://%s/ (sessions: %s)\n", ln.Addr(), storeName)
	fmt.Printf("log in as %q with password %q\n", *user, password)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, stop) // a second signal kills the process at once
	return a.Serve(ctx, ln)
}
