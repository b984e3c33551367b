package e2e

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/webapp/app"
)

// startRedis runs a private, non-persistent redis-server on a free loopback
// port for the test, or skips when there is none.
func startRedis(t *testing.T) string {
	t.Helper()
	bin := "/usr/bin/redis-server"
	if _, err := os.Stat(bin); err != nil {
		p, err := exec.LookPath("redis-server")
		if err != nil {
			requireOrSkip(t, "redis-server not found at %s or on PATH (apt-get install redis-server)", bin)
		}
		bin = p
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + port
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not come up on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// (e) With the Redis store, the app restarts (new http.Server, new Manager,
// new Redis client, same address): the browser is still logged in, keeps
// its counter, and a form loaded before the restart still posts (the CSRF
// secret lives in the session).
func TestRedisSessionSurvivesRestart(t *testing.T) {
	addr := startRedis(t)
	ctx := newBrowser(t)
	newStore := func() session.Store {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = c.Close() })
		return session.NewRedisStore(c)
	}

	s1 := startApp(t, app.Config{Store: newStore()}, "")
	login(t, ctx, s1, demoPassword)
	increment(t, ctx, s1)
	if got := count(t, ctx, s1); got != "1" {
		t.Fatalf("counter %s before restart", got)
	}

	s1.stop(t)
	s2 := startApp(t, app.Config{Store: newStore()}, s1.Addr)

	// The profile page loaded from the first process posts to the second.
	if st := submit(t, ctx, "#increment"); st != 200 {
		t.Fatalf("increment after restart: status %d", st)
	}
	if p := path(t, ctx); p != "/profile" {
		t.Fatalf("after restart the browser landed on %s, want /profile", p)
	}
	if got := count(t, ctx, s2); got != "2" {
		t.Fatalf("counter %s after restart, want 2", got)
	}
	do(t, ctx, "open devices", chromedp.Navigate(s2.URL+"/devices"), chromedp.WaitVisible(chromedp.ID("devices")))
	if n := rows(t, ctx); n != 1 {
		t.Fatalf("devices lists %d sessions after restart, want 1", n)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "This device") {
		t.Fatalf("this device not marked after restart:\n%s", text)
	}
}
