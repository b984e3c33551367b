package drivertest

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkit/session/internal/mysqltest"
	"github.com/sessionkit/session/internal/pgtest"
	"github.com/sessionkit/session/sqlstore"
)

// TestDemoOnSQL runs the demo as its README says, `go run
// ./examples/webapp` with DATABASE_URL set (here its binary, built once), on
// PostgreSQL, MariaDB and a SQLite file: it logs in through the login form,
// stops on SIGTERM (exit status 0), and after a restart the same cookie is
// still logged in (the session lived in the database, not in the process),
// with the login in session_audit.
func TestDemoOnSQL(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "webapp")
	build := exec.Command("go", "build", "-o", bin, "./examples/webapp")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/webapp: %v\n%s", err, out)
	}
	for _, c := range []struct {
		name string
		d    sqlstore.Dialect
		url  func(t *testing.T) (string, *sql.DB)
	}{
		{"PostgreSQL", sqlstore.Postgres, func(t *testing.T) (string, *sql.DB) {
			srv := pgtest.Start(t)
			return srv.DSN(), open(t, "pgx", srv.DSN())
		}},
		{"MariaDB", sqlstore.MySQL, func(t *testing.T) (string, *sql.DB) {
			srv := mysqltest.Start(t)
			return "mysql://" + srv.DSN(), open(t, "mysql", srv.DSN())
		}},
		{"SQLiteFile", sqlstore.SQLite, func(t *testing.T) (string, *sql.DB) {
			path := filepath.Join(t.TempDir(), "demo.db")
			return "sqlite:" + path, open(t, "sqlite", path)
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dbURL, db := c.url(t)
			jar, err := cookiejar.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			client := &http.Client{Jar: jar, Timeout: 10 * time.Second}

			base, stop := startDemo(t, bin, dbURL, c.d)
			demoLogin(t, client, base)
			if got := demoGet(t, client, base+"/profile"); got != http.StatusOK {
				t.Fatalf("GET /profile after login: %d", got)
			}
			stop()

			base, stop = startDemo(t, bin, dbURL, c.d)
			defer stop()
			// The jar keys cookies by host, not port: same host, new port.
			if got := demoGet(t, client, base+"/profile"); got != http.StatusOK {
				t.Fatalf("GET /profile after a restart: %d, want 200 (the session kept in the database)", got)
			}
			var n int
			if err := db.QueryRow(`SELECT COUNT(*) FROM session_audit WHERE kind = 'session.login'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("session.login rows in session_audit: %d, want 1", n)
			}
		})
	}
}

var bannerRE = regexp.MustCompile(`^sessionkit demo on (http://\S+)/ \(sessions: (.*)\)$`)

// startDemo starts the demo binary on DATABASE_URL and a free port, waits
// for its banner, and returns its base URL and a func that stops it with
// SIGTERM and checks that it exits cleanly.
func startDemo(t *testing.T, bin, dbURL string, d sqlstore.Dialect) (string, func()) {
	t.Helper()
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "DEMO_PASSWORD=demo-password")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	banner := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := bannerRE.FindStringSubmatch(sc.Text()); m != nil {
				banner <- m
			}
		}
		_, _ = io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("demo after SIGTERM: %v, want exit status 0", err)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("demo did not exit within 30 s of SIGTERM")
		}
	}
	t.Cleanup(stop)
	// The first start builds examples/sqlwebapp (its drivers included).
	select {
	case m := <-banner:
		if want := d.String() + ", audit trail in session_audit"; m[2] != want {
			t.Fatalf("demo runs on %q, want %q", m[2], want)
		}
		return m[1], stop
	case err := <-exited:
		t.Fatalf("demo exited before serving: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatal("demo did not print its banner within 5 minutes")
	}
	return "", nil
}

var csrfFieldRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// demoLogin logs in as the demo user through the login form.
func demoLogin(t *testing.T, client *http.Client, base string) {
	t.Helper()
	resp, err := client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfFieldRE.FindSubmatch(body)
	if m == nil {
		t.Fatalf("login page %d without a CSRF token", resp.StatusCode)
	}
	form := url.Values{"csrf_token": {string(m[1])}, "username": {"demo"}, "password": {"demo-password"}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/profile" {
		t.Fatalf("login: %d at %s, want 200 at /profile", resp.StatusCode, resp.Request.URL.Path)
	}
}

// demoGet returns the status of a GET that does not follow redirects.
func demoGet(t *testing.T, client *http.Client, u string) int {
	t.Helper()
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
