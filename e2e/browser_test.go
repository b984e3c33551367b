package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session/examples/webapp/app"
)

// rows returns the number of sessions the devices page lists.
func rows(t *testing.T, ctx context.Context) int {
	t.Helper()
	return run(t, ctx, "count devices", chromedp.Evaluate[int](`document.querySelectorAll("#devices tbody tr").length`))
}

// bodyText returns the visible text of the page.
func bodyText(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, "page text", chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
}

// (a) Log in; the devices page lists this browser; the session cookie is
// HttpOnly, so page scripts cannot read it.
func TestLoginListsThisBrowserAndCookieIsHttpOnly(t *testing.T) {
	ctx := newBrowser(t)
	s := startApp(t, app.Config{}, "")

	expectLoginPage(t, ctx, s, "/profile")
	login(t, ctx, s, demoPassword)
	do(t, ctx, "open devices", chromedp.Navigate(s.URL+"/devices"), chromedp.WaitVisible(chromedp.ID("devices")))
	if n := rows(t, ctx); n != 1 {
		t.Fatalf("devices lists %d sessions, want 1", n)
	}
	current := run(t, ctx, "current row", chromedp.Text(chromedp.CSS("#devices tr.current")))
	ua := run(t, ctx, "user agent", chromedp.Evaluate[string](`navigator.userAgent`))
	for _, want := range []string{"This device", "Headless Chrome on Linux", ua, "127.0.0.1", "just now"} {
		if !strings.Contains(current, want) {
			t.Errorf("current device row %q lacks %q", current, want)
		}
	}

	// The strict CSP lets the app's own stylesheet through.
	if bg := run(t, ctx, "stylesheet applied", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`)); bg != "rgb(245, 247, 251)" {
		t.Errorf("body background %q: the stylesheet did not load under the CSP", bg)
	}

	// The browser holds the cookie, but document.cookie does not show it.
	cctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(cctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL}})
	if err != nil {
		t.Fatal(err)
	}
	var sid *network.Cookie
	for _, c := range res.Cookies {
		if c.Name == "sid" {
			sid = c
		}
	}
	if sid == nil {
		t.Fatalf("the browser has no sid cookie: %+v", res.Cookies)
	}
	if !sid.HTTPOnly || sid.SameSite != network.CookieSameSiteLax || sid.Path != "/" {
		t.Errorf("sid cookie: HttpOnly=%v SameSite=%q Path=%q", sid.HTTPOnly, sid.SameSite, sid.Path)
	}
	jsCookies := run(t, ctx, "document.cookie", chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(jsCookies, "sid=") || strings.Contains(jsCookies, sid.Value) {
		t.Fatalf("document.cookie exposes the session cookie: %q", jsCookies)
	}
}

// (b) A page on another origin (another port) auto-submits forms to the app:
// the requests are refused before any handler runs, and nothing changes.
func TestCrossOriginFormPostIsRefused(t *testing.T) {
	ctx := newBrowser(t)
	s := startApp(t, app.Config{}, "")
	login(t, ctx, s, demoPassword)
	increment(t, ctx, s)
	before := count(t, ctx, s)

	attack := func(action string) string {
		return fmt.Sprintf(`<!doctype html><title>Cute cats</title>
<form id="f" method="post" action="%s%s"><input type="hidden" name="csrf_token" value="forged"></form>
<script>document.getElementById("f").submit()</script>`, s.URL, action)
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, attack(r.URL.Path))
	}))
	defer evil.Close()
	if evil.URL == s.URL || !strings.HasPrefix(evil.URL, "http://127.0.0.1:") {
		t.Fatalf("attacker origin %s", evil.URL)
	}

	for _, target := range []string{"/counter", "/logout", "/devices/revoke-others"} {
		do(t, ctx, "visit the attacker's page", chromedp.Navigate(evil.URL+target))
		waitFor(t, ctx, "the forged POST to "+target,
			`location.href === `+jsString(s.URL+target)+` && document.readyState === "complete"`)
		if text := bodyText(t, ctx); !strings.Contains(text, "Forbidden") {
			t.Fatalf("forged POST %s was not refused; page: %q", target, text)
		}
		if got := count(t, ctx, s); got != before {
			t.Fatalf("after forged POST %s: counter %s, want %s", target, got, before)
		}
	}
	if n := strings.Count(s.Log.String(), "session.cross_origin_refused"); n != 3 {
		t.Fatalf("%d cross-origin refusals logged, want 3; log:\n%s", n, s.Log)
	}
	// Still logged in, same counter, and the app still works.
	increment(t, ctx, s)
}

// (c) Two browser profiles log in as the same user; one revokes the other
// from its devices page; the other is sent to the login page at its next
// navigation.
func TestRevokeOtherBrowser(t *testing.T) {
	a, b := newBrowser(t), newBrowser(t)
	s := startApp(t, app.Config{}, "")
	login(t, a, s, demoPassword)
	login(t, b, s, demoPassword)

	do(t, a, "open devices", chromedp.Navigate(s.URL+"/devices"), chromedp.WaitVisible(chromedp.ID("devices")))
	if n := rows(t, a); n != 2 {
		t.Fatalf("devices lists %d sessions, want 2", n)
	}
	if st := submit(t, a, "#devices tr.other form.revoke button"); st != 200 {
		t.Fatalf("revoke: status %d", st)
	}
	if text := bodyText(t, a); !strings.Contains(text, "The session was logged out.") {
		t.Fatalf("no confirmation after revoke: %q", text)
	}
	if n := rows(t, a); n != 1 {
		t.Fatalf("devices lists %d sessions after revoke, want 1", n)
	}

	expectLoginPage(t, b, s, "/profile")
	// The revoking browser is still logged in.
	count(t, a, s)
}

// (d) Changing the password in one profile logs the other one out.
func TestPasswordChangeLogsOutOtherBrowser(t *testing.T) {
	a, b := newBrowser(t), newBrowser(t)
	s := startApp(t, app.Config{}, "")
	login(t, a, s, demoPassword)
	login(t, b, s, demoPassword)
	increment(t, a, s)

	const next = "a new e2e password"
	do(t, a, "fill the password form",
		chromedp.Navigate(s.URL+"/password"),
		chromedp.WaitVisible(chromedp.ID("change-password")),
		chromedp.SendKeys(chromedp.ID("current"), demoPassword),
		chromedp.SendKeys(chromedp.ID("new"), next),
		chromedp.SendKeys(chromedp.ID("confirm"), next),
	)
	if st := submit(t, a, "#change-password button[type=submit]"); st != 200 {
		t.Fatalf("change password: status %d", st)
	}
	if text := bodyText(t, a); !strings.Contains(text, "Password changed.") {
		t.Fatalf("no confirmation: %q", text)
	}

	expectLoginPage(t, b, s, "/devices")
	if got := count(t, a, s); got != "1" {
		t.Fatalf("the changing browser's session lost its counter: %s", got)
	}
	// The old password no longer works; the new one does.
	do(t, b, "log in with the old password",
		chromedp.Navigate(s.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("username"), demoUser),
		chromedp.SendKeys(chromedp.ID("password"), demoPassword),
	)
	if st := submit(t, b, "#login button[type=submit]"); st != http.StatusUnauthorized {
		t.Fatalf("old password: status %d, want 401", st)
	}
	login(t, b, s, next)
}

// (f) After logout, Back does not show the private page from a cache.
func TestBackAfterLogoutShowsNoPrivatePage(t *testing.T) {
	ctx := newBrowser(t)
	s := startApp(t, app.Config{}, "")
	login(t, ctx, s, demoPassword)
	if p := path(t, ctx); p != "/profile" {
		t.Fatalf("after login at %s", p)
	}
	if st := submit(t, ctx, "#logout"); st != 200 {
		t.Fatalf("logout: status %d", st)
	}
	if p := path(t, ctx); p != "/login" {
		t.Fatalf("after logout at %s", p)
	}
	// NavigateBack waits for a load event, which a page restored from the
	// back/forward cache never fires: give it a few seconds, then look at
	// whatever the browser shows.
	bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := chromedp.Do(bctx, chromedp.NavigateBack())
	cancel()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("go back: %v", err)
	} else if err != nil {
		t.Log("no load event after Back: the page may come from the back/forward cache")
	}
	waitFor(t, ctx, "the page after Back", `document.readyState === "complete"`)
	text := bodyText(t, ctx)
	private := run(t, ctx, "private elements", chromedp.Evaluate[int](`document.querySelectorAll("#count, #profile, #user, #logout").length`))
	if private != 0 || strings.Contains(text, "counter") || strings.Contains(text, "Signed in as") {
		t.Fatalf("Back after logout shows the private page (at %s):\n%s", path(t, ctx), text)
	}
	if !strings.Contains(text, "Log in") {
		t.Fatalf("Back after logout shows neither the private page nor the login form (at %s):\n%s", path(t, ctx), text)
	}
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// (g) A screenshot of the devices page, with a second device logged in from
// another client, is written to a temporary directory.
func TestDevicesScreenshot(t *testing.T) {
	ctx := newBrowser(t)
	s := startApp(t, app.Config{}, "")

	// Another device: a plain HTTP client posing as Firefox on Windows.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	get := func(req *http.Request) string {
		req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	req, _ := http.NewRequest("GET", s.URL+"/login", nil)
	m := csrfRE.FindStringSubmatch(get(req))
	if m == nil {
		t.Fatal("no CSRF token on the login page")
	}
	form := url.Values{"csrf_token": {m[1]}, "username": {demoUser}, "password": {demoPassword}}
	req, _ = http.NewRequest("POST", s.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if page := get(req); !strings.Contains(page, `id="count"`) {
		t.Fatalf("second device could not log in:\n%s", page)
	}

	login(t, ctx, s, demoPassword)
	do(t, ctx, "open devices", chromedp.Navigate(s.URL+"/devices"), chromedp.WaitVisible(chromedp.ID("devices")))
	if n := rows(t, ctx); n != 2 {
		t.Fatalf("devices lists %d sessions, want 2", n)
	}
	if text := bodyText(t, ctx); !strings.Contains(text, "Firefox on Windows") {
		t.Fatalf("second device missing:\n%s", text)
	}
	png := run(t, ctx, "screenshot", chromedp.FullScreenshot(100))
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Fatalf("screenshot is not a plausible PNG (%d bytes)", len(png))
	}
	dir := os.Getenv("E2E_ARTIFACTS")
	if dir == "" {
		var err error
		// Not t.TempDir: the file is for a person to look at afterwards.
		if dir, err = os.MkdirTemp("", "sessionkit-e2e-"); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "devices.png")
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("devices page screenshot: %s (%d bytes)", file, len(png))
}

// (f) The profile page's live stream (Server-Sent Events under
// Session.Watch) closes within seconds when the session is revoked from
// another browser, and the page lands on the login form by itself.
func TestLivePageEndsOnRevoke(t *testing.T) {
	a, b := newBrowser(t), newBrowser(t)
	s := startApp(t, app.Config{}, "")
	login(t, a, s, demoPassword)
	login(t, b, s, demoPassword)
	waitFor(t, b, "the live stream", `document.getElementById("live") && document.getElementById("live").textContent === "Live updates: connected"`)

	do(t, a, "open devices", chromedp.Navigate(s.URL+"/devices"), chromedp.WaitVisible(chromedp.ID("devices")))
	revoked := time.Now()
	if st := submit(t, a, "#devices tr.other form.revoke button"); st != 200 {
		t.Fatalf("revoke: status %d", st)
	}
	waitFor(t, b, "the revoked browser on the login page", `location.pathname === "/login" && !!document.getElementById("login")`)
	if d := time.Since(revoked); d > 10*time.Second {
		t.Errorf("the live page noticed the revocation after %v", d)
	}
	t.Logf("the revoked browser left the live page %v after the revocation", time.Since(revoked).Round(100*time.Millisecond))
}

// (g) "Remember me" gives a persistent cookie, marked on the devices page;
// a plain login keeps a session cookie.
func TestRememberMeLogin(t *testing.T) {
	ctx := newBrowser(t)
	s := startApp(t, app.Config{}, "")
	do(t, ctx, "log in, remembered",
		chromedp.Navigate(s.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("username"), demoUser),
		chromedp.SendKeys(chromedp.ID("password"), demoPassword),
		chromedp.Click(chromedp.ID("remember")),
		chromedp.Click(chromedp.CSS("#login button[type=submit]")),
		chromedp.WaitVisible(chromedp.ID("count")),
	)
	cctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(cctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range res.Cookies {
		if strings.Contains(c.Name, "sid") {
			found = true
			if c.Session || time.Until(time.Unix(int64(c.Expires), 0)) < 6*24*time.Hour {
				t.Errorf("remembered session cookie %s: session=%v expires %v", c.Name, c.Session, time.Unix(int64(c.Expires), 0))
			}
		}
	}
	if !found {
		t.Fatalf("no session cookie in %d cookies", len(res.Cookies))
	}
	do(t, ctx, "open devices", chromedp.Navigate(s.URL+"/devices"), chromedp.WaitVisible(chromedp.ID("devices")))
	if row := run(t, ctx, "current row", chromedp.Text(chromedp.CSS("#devices tr.current"))); !strings.Contains(row, "Remembered") {
		t.Errorf("the devices page does not mark the remembered session: %q", row)
	}
}
