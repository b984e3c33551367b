package e2e

import (
	"context"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/webapp/app"
)

// These tests show Config.RotationGrace in a real browser (issue 10, item 5;
// the design invariant "A recently rotated ID is not an attack"). A page starts a fetch
// that carries the pre-login session cookie; the server holds it while the
// user logs in from another tab of the same browser; only then does the held
// request read its session and answer, so its response reaches the browser
// after the login response. Without the grace, that late response expires
// the browser's cookie (Max-Age=0), which drops the new session cookie too:
// the user is logged out by their own background request.

// sidCookie is the session cookie's name when CookieConfig.AllowInsecure is
// set (the demo app and startGraceApp).
const sidCookie = "sid"

// slowRoute is GET /e2e/slow, a test-only route served under the app's own
// Manager.Handler (same cookie, same store). It reports the session cookie
// it carried, waits until the test releases it, then reads the session, as
// a handler that first waits on a slow backend would, and answers with the
// user it sees. The session is read only after the wait on purpose: a
// request that loaded the pre-login record before the login has nothing to
// commit and sends no Set-Cookie, with or without the grace; the one that
// reads the rotated ID afterwards is what used to expire the cookie.
type slowRoute struct {
	arrived  chan string     // the sid cookie the request carried ("" for none)
	release  chan struct{}   // closed by the test
	answered chan slowAnswer // what the route answered
}

// slowAnswer is what GET /e2e/slow answered, as the server sent it.
type slowAnswer struct {
	setCookie []string      // the response's Set-Cookie headers
	took      time.Duration // from the request's arrival to its answer
}

func newSlowRoute() *slowRoute {
	return &slowRoute{
		arrived:  make(chan string, 1),
		release:  make(chan struct{}),
		answered: make(chan slowAnswer, 1),
	}
}

func (sr *slowRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	carried := ""
	if c, err := r.Cookie(sidCookie); err == nil {
		carried = c.Value
	}
	select {
	case sr.arrived <- carried:
	default: // a second request (none is expected) must not block
	}
	select {
	case <-sr.release:
	case <-time.After(stepTimeout): // the test has failed; answer anyway
	case <-r.Context().Done():
		return
	}
	user := session.FromContext(r.Context()).UserID()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "user="+user)
}

// withSlowRoute serves appHandler plus two test-only routes: GET /e2e/slow
// under m.Handler (m is the app's own Manager), and GET /e2e/page, a plain
// page outside the app's handler, so without the demo's CSP (whose
// default-src 'none' would block the fetch), from which the test starts the
// fetch. The Set-Cookie headers of /e2e/slow's response are recorded.
func withSlowRoute(m *session.Manager, appHandler http.Handler, sr *slowRoute) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", appHandler)
	mux.HandleFunc("GET /e2e/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<!doctype html><title>Another tab</title><p id="tab">a page with a background fetch</p>`)
	})
	// A visitor who put something in the session before logging in (a
	// cart, say): the login page itself stores nothing since CSRF tokens
	// for anonymous visitors are stateless.
	mux.Handle("GET /e2e/start", m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Set("cart", "1 book"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, `<!doctype html><title>Shop</title><p id="shop">a book in the cart</p>`)
	})))
	slow := m.Handler(sr)
	mux.HandleFunc("GET /e2e/slow", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		slow.ServeHTTP(w, r)
		select {
		case sr.answered <- slowAnswer{setCookie: w.Header().Values("Set-Cookie"), took: time.Since(start)}:
		default:
		}
	})
	return mux
}

var (
	graceLoginPage = template.Must(template.New("login").Parse(`<!doctype html><title>Log in</title>
<form id="login" method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{.}}">
<input name="username" id="username"> <input name="password" id="password" type="password">
<button type="submit">Log in</button>
</form>`))
	graceProfilePage = template.Must(template.New("profile").Parse(`<!doctype html><title>Profile</title>
<p>Signed in as <strong id="user">{{.}}</strong>; counter <span id="count">0</span></p>`))
)

// startGraceApp runs a small app on a Manager built here with the given
// Config.RotationGrace (the demo app's Config does not pass one on). Its
// pages carry the ids the helpers look for: GET /login is a form (#login,
// #username, #password) with a stateless CSRF token, POST
// /login logs demoUser in (session.Login renews the ID) and redirects to
// /profile, which shows #user and #count, or redirects an anonymous visitor
// to /login.
func startGraceApp(t *testing.T, grace time.Duration, sr *slowRoute) *server {
	t.Helper()
	logs := &syncBuffer{}
	m, err := session.New(session.Config{
		RotationGrace: grace,
		Cookie:        session.CookieConfig{AllowInsecure: true},
		Logger:        slog.New(slog.NewTextHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if session.FromContext(r.Context()).UserID() != "" {
			http.Redirect(w, r, "/profile", http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = graceLoginPage.Execute(w, session.CSRFToken(r))
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("username") != demoUser || r.PostFormValue("password") != demoPassword {
			http.Error(w, "invalid username or password", http.StatusUnauthorized)
			return
		}
		if err := session.FromContext(r.Context()).Login(r.Context(), demoUser); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/profile", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /profile", func(w http.ResponseWriter, r *http.Request) {
		user := session.FromContext(r.Context()).UserID()
		if user == "" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_ = graceProfilePage.Execute(w, user)
	})
	return serve(t, withSlowRoute(m, m.Handler(m.CSRF(mux)), sr), m, logs, "")
}

// browserSID returns the value of the browser's session cookie for s, or "".
func browserSID(t *testing.T, ctx context.Context, s *server) string {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(cctx, network.GetCookies, network.GetCookiesParams{URLs: []string{s.URL}})
	if err != nil {
		t.Fatalf("read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == sidCookie {
			return c.Value
		}
	}
	return ""
}

// fetchResult is what the page's slow fetch resolved to.
type fetchResult struct {
	Status int     `json:"status"`
	Body   string  `json:"body"`
	At     float64 `json:"at"` // Date.now() when the response arrived
}

// inFlight is what loginDuringSlowFetch observed.
type inFlight struct {
	old, renewed string      // the session cookie before and after the login
	fetch        fetchResult // the slow response as the page saw it
	answer       slowAnswer  // the slow response as the server sent it
}

// loginDuringSlowFetch runs the scenario in the browser of ctx: the login
// page starts an anonymous session (a value put in the cart); a page of the app starts a fetch of
// /e2e/slow, which the server holds with the pre-login cookie; another tab
// of the same browser logs in through the form; then the held request reads
// its session and answers, after the login response.
func loginDuringSlowFetch(t *testing.T, ctx context.Context, s *server, sr *slowRoute) inFlight {
	t.Helper()
	var f inFlight
	do(t, ctx, "put something in the cart", chromedp.Navigate(s.URL+"/e2e/start"), chromedp.WaitVisible(chromedp.ID("shop")))
	do(t, ctx, "open the login page", chromedp.Navigate(s.URL+"/login"), chromedp.WaitVisible(chromedp.ID("login")))
	if f.old = browserSID(t, ctx, s); f.old == "" {
		t.Fatal("the cart started no session: no cookie for the login to rotate")
	}

	do(t, ctx, "open the page with the fetch", chromedp.Navigate(s.URL+"/e2e/page"), chromedp.WaitVisible(chromedp.ID("tab")))
	run(t, ctx, "start the slow fetch", chromedp.Evaluate[bool](`window.slow = fetch("/e2e/slow", {cache: "no-store"}).then(
	async r => ({status: r.status, body: await r.text(), at: Date.now()}),
	e => ({status: 0, body: String(e), at: Date.now()}));
true`))
	select {
	case carried := <-sr.arrived:
		if carried != f.old {
			t.Fatalf("the slow fetch carried cookie %q, want the pre-login %q", carried, f.old)
		}
	case <-time.After(stepTimeout):
		t.Fatal("the slow fetch never reached the server")
	}

	tab, closeTab := chromedp.NewContext(ctx)
	defer closeTab()
	login(t, tab, s, demoPassword) // waits for the profile page
	loggedIn := time.Now()
	if f.renewed = browserSID(t, ctx, s); f.renewed == "" || f.renewed == f.old {
		t.Fatalf("after login the browser's cookie is %q (before: %q), want a new one", f.renewed, f.old)
	}

	close(sr.release) // only now does the held request read its session
	f.fetch = run(t, ctx, "await the slow fetch", chromedp.Evaluate[fetchResult](`window.slow`, chromedp.EvalAwaitPromise))
	select {
	case f.answer = <-sr.answered:
	case <-time.After(stepTimeout):
		t.Fatal("the slow route did not answer")
	}
	if f.fetch.Status != http.StatusOK {
		t.Fatalf("slow fetch: status %d, body %q", f.fetch.Status, f.fetch.Body)
	}
	// The held request was answered as anonymous, never as the new session
	// (that would reopen session fixation), in both configurations.
	if f.fetch.Body != "user=" {
		t.Fatalf("the request with the pre-login cookie saw %q, want an anonymous session", f.fetch.Body)
	}
	if arrived := time.UnixMilli(int64(f.fetch.At)); arrived.Before(loggedIn.Truncate(time.Millisecond)) {
		t.Fatalf("the slow response arrived at %v, before the login completed at %v", arrived, loggedIn)
	}
	t.Logf("slow request held %v; its response arrived %v after the login page showed",
		f.answer.took.Round(time.Millisecond), time.UnixMilli(int64(f.fetch.At)).Sub(loggedIn).Round(time.Millisecond))
	return f
}

// sidSetCookie returns the response's Set-Cookie header for the session
// cookie, or "".
func sidSetCookie(a slowAnswer) string {
	for _, h := range a.setCookie {
		if strings.HasPrefix(h, sidCookie+"=") {
			return h
		}
	}
	return ""
}

// rejectedRotated counts "session.rejected reason=rotated" events in log.
func rejectedRotated(log string) int {
	n := 0
	for line := range strings.Lines(log) {
		if strings.Contains(line, "msg="+session.EventRejected) && strings.Contains(line, "reason=rotated") {
			n++
		}
	}
	return n
}

// expectStillLoggedIn checks that the browser still holds the renewed cookie
// and that a request shows the user, and that the late request with the old
// cookie neither expired it nor was logged as a rejected ID.
func expectStillLoggedIn(t *testing.T, ctx context.Context, s *server, f inFlight) {
	t.Helper()
	if h := sidSetCookie(f.answer); h != "" {
		t.Errorf("the late response with the pre-login cookie set %q", h)
	}
	if got := browserSID(t, ctx, s); got != f.renewed {
		t.Errorf("after the late response the browser's cookie is %q, want the renewed %q", got, f.renewed)
	}
	do(t, ctx, "open profile", chromedp.Navigate(s.URL+"/profile"), chromedp.WaitVisible(chromedp.CSS("#user, #login")))
	if p := path(t, ctx); p != "/profile" {
		t.Fatalf("logged out by the late response: /profile ended at %s", p)
	}
	if user := run(t, ctx, "read user", chromedp.Text(chromedp.ID("user"))); user != demoUser {
		t.Fatalf("profile shows user %q, want %q", user, demoUser)
	}
	if n := rejectedRotated(s.Log.String()); n != 0 {
		t.Errorf("%d session.rejected (rotated) events within the grace period; log:\n%s", n, s.Log)
	}
}

// TestLoginDuringInFlightFetch: logging in while a request with the
// pre-login cookie is in flight must not log the user out when that request's
// response arrives last (issue 10, item 5).
func TestLoginDuringInFlightFetch(t *testing.T) {
	// The failure mode the grace period fixes, shown in Chromium: with
	// RotationGrace disabled the held request's old ID is rejected, its
	// response expires the cookie, and the browser drops the new session
	// cookie with it. This is what every login did before the grace period;
	// it also proves the scenario can fail.
	t.Run("GraceDisabledLogsOut", func(t *testing.T) {
		ctx := newBrowser(t)
		sr := newSlowRoute()
		s := startGraceApp(t, -1, sr)
		f := loginDuringSlowFetch(t, ctx, s, sr)

		if h := sidSetCookie(f.answer); !strings.Contains(h, "Max-Age=0") {
			t.Fatalf("the late response set %q, want the session cookie expired (Max-Age=0)", h)
		}
		if got := browserSID(t, ctx, s); got != "" {
			t.Fatalf("the browser still has session cookie %q after the late Max-Age=0", got)
		}
		expectLoginPage(t, ctx, s, "/profile")
		if n := rejectedRotated(s.Log.String()); n != 1 {
			t.Fatalf("%d session.rejected (rotated) events, want 1; log:\n%s", n, s.Log)
		}
	})

	// The same scenario with the default grace (60 s): the late request is
	// answered as anonymous without touching the cookie; the user stays
	// logged in.
	t.Run("DefaultGraceStaysLoggedIn", func(t *testing.T) {
		ctx := newBrowser(t)
		sr := newSlowRoute()
		s := startGraceApp(t, 0, sr) // 0: the default, 60 s
		f := loginDuringSlowFetch(t, ctx, s, sr)
		expectStillLoggedIn(t, ctx, s, f)
	})

	// The demo app as shipped (its login form, CSRF, throttling, pages),
	// with /e2e/slow added under its own Manager: the user stays logged in.
	t.Run("DemoAppStaysLoggedIn", func(t *testing.T) {
		ctx := newBrowser(t)
		sr := newSlowRoute()
		s := startAppWith(t, app.Config{}, "", func(a *app.App) http.Handler {
			return withSlowRoute(a.Manager(), a.Handler(), sr)
		})
		f := loginDuringSlowFetch(t, ctx, s, sr)
		expectStillLoggedIn(t, ctx, s, f)
	})
}
