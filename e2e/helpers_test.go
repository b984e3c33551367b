package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session/examples/webapp/app"
)

const (
	demoUser     = "demo"
	demoPassword = "e2e password 1"
	// browserTimeout bounds everything one browser does in a test.
	browserTimeout = 90 * time.Second
	// stepTimeout bounds one group of actions.
	stepTimeout = 20 * time.Second
)

// requireOrSkip skips the test for a missing dependency, or fails it when
// SESSION_TEST_REQUIRE_REAL=1 (CI installs everything).
func requireOrSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("SESSION_TEST_REQUIRE_REAL") == "1" {
		t.Fatalf("%s (SESSION_TEST_REQUIRE_REAL=1 makes this a failure)", msg)
	}
	t.Skip(msg + "; skipping (set SESSION_TEST_REQUIRE_REAL=1 to fail instead)")
}

// chromiumPath returns Debian's Chromium, or skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	requireOrSkip(t, "Chromium not found at %s or on PATH (apt-get install chromium)", debian)
	return ""
}

// newBrowser starts a fresh headless Chromium with its own profile directory
// and returns a context for chromedp. The browser, and everything run on the
// context, ends at browserTimeout at the latest; it is closed when the test
// ends. extra adds flags (a test's own).
func newBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir() // registered first, so removed after the browser exits
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1100, 700),
	}
	opts = append(opts, extra...)
	base, cancelBase := context.WithTimeout(context.Background(), browserTimeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc() // waits for the browser process to exit
		cancelBase()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// do runs actions with a per-step timeout.
func do(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// run runs one action with a per-step timeout and returns its value.
func run[T any](t *testing.T, ctx context.Context, what string, action chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// syncBuffer collects the app's log lines (security events) safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// server is the demo app (or a test's own handler) running in-process on a
// loopback port.
type server struct {
	URL    string // http://127.0.0.1:port
	Addr   string
	Log    *syncBuffer
	closer io.Closer // the app or Manager, closed once the server has stopped
	srv    *http.Server
	done   chan error
}

// startApp runs the app on addr ("" for a free port) over plain HTTP.
func startApp(t *testing.T, cfg app.Config, addr string) *server {
	t.Helper()
	return startAppWith(t, cfg, addr, nil)
}

// startAppWith is startApp serving handler(a) instead of a.Handler(), for a
// test that adds routes of its own next to the app's (nil: a.Handler()).
func startAppWith(t *testing.T, cfg app.Config, addr string, handler func(a *app.App) http.Handler) *server {
	t.Helper()
	logs := &syncBuffer{}
	cfg.User, cfg.Password = demoUser, demoPassword
	if cfg.Iterations == 0 {
		cfg.Iterations = 20_000 // the browser flow, not the hash, is under test
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	a, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler()
	if handler != nil {
		h = handler(a)
	}
	return serve(t, h, a, logs, addr)
}

// serve runs h on addr ("" for a free port) over plain HTTP until the test
// ends, then closes closer. logs is what the server's Log shows.
func serve(t *testing.T, h http.Handler, closer io.Closer, logs *syncBuffer, addr string) *server {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var (
		ln  net.Listener
		err error
	)
	// The address of a restarted server can take a moment to free up.
	for i := 0; ; i++ {
		ln, err = net.Listen("tcp", addr)
		if err == nil || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		_ = closer.Close()
		t.Fatal(err)
	}
	s := &server{
		URL:    "http://" + ln.Addr().String(),
		Addr:   ln.Addr().String(),
		Log:    logs,
		closer: closer,
		srv:    &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second},
		done:   make(chan error, 1),
	}
	go func() { s.done <- s.srv.Serve(ln) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop shuts the server down gracefully (idempotent).
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.srv == nil {
		return
	}
	// Chromium opens speculative connections that never carry a request;
	// Shutdown waits up to 5s for such a connection before it counts as
	// idle. Give requests in flight a moment, then close what is left.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
		_ = s.srv.Close()
	} else if err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if err := <-s.done; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("serve: %v", err)
	}
	_ = s.closer.Close()
	s.srv = nil
}

// login logs the browser in through the login form and waits for the
// profile page.
func login(t *testing.T, ctx context.Context, s *server, password string) {
	t.Helper()
	do(t, ctx, "log in",
		chromedp.Navigate(s.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("username"), demoUser),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("count")),
	)
}

// path returns the path of the page the browser shows.
func path(t *testing.T, ctx context.Context) string {
	t.Helper()
	loc := run(t, ctx, "location", chromedp.Location())
	i := strings.Index(loc[len("http://"):], "/")
	if i < 0 {
		return "/"
	}
	return loc[len("http://")+i:]
}

// expectLoginPage navigates to a private page and checks that the browser
// ends up on the login form.
func expectLoginPage(t *testing.T, ctx context.Context, s *server, private string) {
	t.Helper()
	do(t, ctx, "open "+private, chromedp.Navigate(s.URL+private), chromedp.WaitVisible(chromedp.ID("login")))
	if p := path(t, ctx); p != "/login" {
		t.Fatalf("navigating to %s ended at %s, want /login", private, p)
	}
	if n := run(t, ctx, "private content", chromedp.Evaluate[int](`document.querySelectorAll("#count, #devices, #user").length`)); n != 0 {
		t.Fatalf("login page shows %d private elements", n)
	}
}

// count returns the counter of the profile page.
func count(t *testing.T, ctx context.Context, s *server) string {
	t.Helper()
	do(t, ctx, "open profile", chromedp.Navigate(s.URL+"/profile"), chromedp.WaitVisible(chromedp.ID("count")))
	return run(t, ctx, "read counter", chromedp.Text(chromedp.ID("count")))
}

// submit clicks a form's button and waits for the page it leads to,
// returning that response's status.
func submit(t *testing.T, ctx context.Context, button string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(button)))
	if err != nil {
		t.Fatalf("submit %s: %v", button, err)
	}
	return resp.Status
}

// increment clicks the counter button and checks that the count went up.
func increment(t *testing.T, ctx context.Context, s *server) {
	t.Helper()
	before := count(t, ctx, s)
	if st := submit(t, ctx, "#increment"); st != 200 {
		t.Fatalf("increment: status %d", st)
	}
	after := run(t, ctx, "read counter", chromedp.Text(chromedp.ID("count")))
	if after == before {
		t.Fatalf("counter stayed %s", before)
	}
}

// waitFor evaluates a JavaScript condition until it is true, across
// navigations (an evaluation that fails while a page loads is retried).
func waitFor(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(ectx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
