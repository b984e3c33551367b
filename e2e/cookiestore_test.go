package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/webapp/app"
)

// startCookieApp runs the demo app on a session.CookieStore: nothing kept
// on the server, the record sealed in the sid cookie.
func startCookieApp(t *testing.T) *server {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cs, err := session.NewCookieStore(key)
	if err != nil {
		t.Fatal(err)
	}
	return startApp(t, app.Config{Store: cs}, "")
}

// browserSid returns the browser's sid cookie for s, or nil.
func browserSid(t *testing.T, ctx context.Context, s *server) *network.Cookie {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(cctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == sidCookie {
			return c
		}
	}
	return nil
}

// The core scenarios on the cookie store, in Chromium: login, the sealed
// cookie HttpOnly and invisible to scripts, values kept in it across
// requests, the devices page saying what stateless cannot do, and logout.
func TestCookieStoreLoginHttpOnlyLogout(t *testing.T) {
	ctx := newBrowser(t)
	s := startCookieApp(t)

	expectLoginPage(t, ctx, s, "/profile")
	login(t, ctx, s, demoPassword)
	sid := browserSid(t, ctx, s)
	if sid == nil {
		t.Fatal("the browser has no sid cookie after login")
	}
	if !sid.HTTPOnly || sid.SameSite != network.CookieSameSiteLax || sid.Path != "/" {
		t.Errorf("sid cookie: HttpOnly=%v SameSite=%q Path=%q", sid.HTTPOnly, sid.SameSite, sid.Path)
	}
	if len(sid.Value) < 100 || strings.Contains(sid.Value, demoUser) {
		t.Errorf("sid cookie %q does not look sealed", sid.Value)
	}
	jsCookies := run(t, ctx, "document.cookie", chromedp.Evaluate[string](`document.cookie`))
	if strings.Contains(jsCookies, "sid=") || strings.Contains(jsCookies, sid.Value) {
		t.Fatalf("document.cookie exposes the session cookie: %q", jsCookies)
	}

	increment(t, ctx, s)
	increment(t, ctx, s)
	if got := count(t, ctx, s); got != "2" {
		t.Fatalf("counter %s after two increments, want 2", got)
	}

	do(t, ctx, "open devices", chromedp.Navigate(s.URL+"/devices"), chromedp.WaitReady("body"))
	if text := bodyText(t, ctx); !strings.Contains(text, "encrypted cookies") {
		t.Errorf("the devices page does not explain the cookie store: %q", text)
	}

	count(t, ctx, s)
	if st := submit(t, ctx, "#logout"); st != 200 {
		t.Fatalf("logout: status %d", st)
	}
	if p := path(t, ctx); p != "/login" {
		t.Fatalf("after logout at %s", p)
	}
	if c := browserSid(t, ctx, s); c != nil && c.Value != "" {
		t.Errorf("the sealed cookie survived logout")
	}
	expectLoginPage(t, ctx, s, "/profile")
}

// A page on another origin auto-submits forms to the app running on the
// cookie store: refused before any handler runs, nothing changes, and the
// user stays logged in.
func TestCookieStoreCrossOriginFormPostIsRefused(t *testing.T) {
	ctx := newBrowser(t)
	s := startCookieApp(t)
	login(t, ctx, s, demoPassword)
	increment(t, ctx, s)
	before := count(t, ctx, s)
	sealed := browserSid(t, ctx, s).Value

	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, fmt.Sprintf(`<!doctype html><title>Cute cats</title>
<form id="f" method="post" action="%s%s"><input type="hidden" name="csrf_token" value="forged"></form>
<script>document.getElementById("f").submit()</script>`, s.URL, r.URL.Path))
	}))
	defer evil.Close()

	for _, target := range []string{"/counter", "/logout"} {
		do(t, ctx, "visit the attacker's page", chromedp.Navigate(evil.URL+target))
		waitFor(t, ctx, "the forged POST to "+target,
			`location.href === `+jsString(s.URL+target)+` && document.readyState === "complete"`)
		if text := bodyText(t, ctx); !strings.Contains(text, "Forbidden") {
			t.Fatalf("forged POST %s was not refused; page: %q", target, text)
		}
		if got := browserSid(t, ctx, s); got == nil || got.Value != sealed {
			t.Fatalf("forged POST %s changed the sealed cookie", target)
		}
	}
	if got := count(t, ctx, s); got != before {
		t.Fatalf("after the forged POSTs: counter %s, want %s", got, before)
	}
	if n := strings.Count(s.Log.String(), "session.cross_origin_refused"); n != 2 {
		t.Fatalf("%d cross-origin refusals logged, want 2; log:\n%s", n, s.Log)
	}
	increment(t, ctx, s)
}
