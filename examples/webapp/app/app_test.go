package app_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/webapp/app"
)

const password = "correct horse battery"

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	_, srv := newAppServer(t, app.Config{})
	return srv
}

// browser is a cookie-keeping client that remembers the last page, so a
// form post can carry the CSRF token that page held.
type browser struct {
	t    *testing.T
	srv  *httptest.Server
	c    *http.Client
	page string // body of the last response
	url  string // final URL of the last response
	code int
	resp *http.Response
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, srv: srv, c: &http.Client{Jar: jar}}
}

func (b *browser) do(req *http.Request) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	b.page, b.url, b.code, b.resp = string(body), resp.Request.URL.Path, resp.StatusCode, resp
}

func (b *browser) get(path string) {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+path, nil)
	b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// post submits a form to path with the CSRF token of the current page.
func (b *browser) post(path string, form url.Values) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if m := csrfRE.FindStringSubmatch(b.page); m != nil && !form.Has("csrf_token") {
		form.Set("csrf_token", m[1])
	}
	req, _ := http.NewRequest("POST", b.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	b.do(req)
}

func (b *browser) login(pw string) {
	b.t.Helper()
	b.get("/login")
	b.post("/login", url.Values{"username": {"demo"}, "password": {pw}})
}

func (b *browser) expect(code int, path, contains string) {
	b.t.Helper()
	if b.code != code || b.url != path || !strings.Contains(b.page, contains) {
		b.t.Fatalf("got %d at %s, want %d at %s containing %q; page:\n%s", b.code, b.url, code, path, contains, b.page)
	}
}

var countRE = regexp.MustCompile(`id="count">(\d+)<`)

func (b *browser) count() int {
	b.t.Helper()
	b.get("/profile")
	m := countRE.FindStringSubmatch(b.page)
	if m == nil {
		b.t.Fatalf("no counter at %s:\n%s", b.url, b.page)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestLoginLogout(t *testing.T) {
	srv := newServer(t)
	b := newBrowser(t, srv)

	b.get("/profile")
	b.expect(200, "/login", `id="login"`)
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "X-Frame-Options"} {
		if b.resp.Header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if csp := b.resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}

	b.post("/login", url.Values{"username": {"demo"}, "password": {"wrong"}})
	b.expect(401, "/login", "Invalid username or password.")
	b.post("/login", url.Values{"username": {"nobody"}, "password": {password}})
	b.expect(401, "/login", "Invalid username or password.")

	b.post("/login", url.Values{"username": {"demo"}, "password": {password}})
	b.expect(200, "/profile", `Signed in as <strong id="user">demo</strong>`)
	if cc := b.resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("private page Cache-Control = %q, want no-store", cc)
	}

	b.post("/logout", nil)
	b.expect(200, "/login", `id="login"`)
	b.get("/profile")
	b.expect(200, "/login", `id="login"`)
}

func TestCookieAttributes(t *testing.T) {
	srv := newServer(t)
	// The login page of an anonymous visitor sets only the CSRF nonce
	// cookie; the session cookie comes with the login.
	b := newBrowser(t, srv)
	b.get("/login")
	sc := b.resp.Header.Values("Set-Cookie")
	if len(sc) != 1 || !strings.HasPrefix(sc[0], "csrf=") {
		t.Fatalf("login page Set-Cookie %q, want only the csrf cookie", sc)
	}
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc[0], want) {
			t.Errorf("Set-Cookie %q lacks %s", sc[0], want)
		}
	}
	b.post("/login", url.Values{"username": {"demo"}, "password": {password}})
	sid := ""
	for _, c := range b.resp.Request.Response.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "sid=") {
			sid = c
		}
	}
	for _, want := range []string{"sid=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sid, want) {
			t.Errorf("Set-Cookie %q lacks %s", sid, want)
		}
	}
}

// TestLoginPageStoresNothing: rendering the login form (with its CSRF
// token) costs no session record, however many cookieless visitors ask.
func TestLoginPageStoresNothing(t *testing.T) {
	a, err := app.New(app.Config{Password: password, Iterations: 1000})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = a.Close()
	})
	for range 500 {
		resp, err := http.Get(srv.URL + "/login")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !csrfRE.Match(body) {
			t.Fatalf("login page: %d, token present %v", resp.StatusCode, csrfRE.Match(body))
		}
	}
	if n, _ := a.Manager().Store().(*session.MemoryStore).Count(t.Context()); n != 0 {
		t.Fatalf("500 login pages left %d session records", n)
	}
	// The form still works: a wrong password re-renders it, still without
	// a record; the right one logs in.
	b := newBrowser(t, srv)
	b.get("/login")
	b.post("/login", url.Values{"username": {"demo"}, "password": {"wrong"}})
	b.expect(401, "/login", "Invalid username or password.")
	if n, _ := a.Manager().Store().(*session.MemoryStore).Count(t.Context()); n != 0 {
		t.Fatalf("a failed login left %d session records", n)
	}
	b.post("/login", url.Values{"username": {"demo"}, "password": {password}})
	b.expect(200, "/profile", "Signed in as")
}

func TestCounterAndCSRF(t *testing.T) {
	srv := newServer(t)
	b := newBrowser(t, srv)
	b.login(password)
	b.post("/counter", nil)
	b.expect(200, "/profile", `id="count">1<`)
	b.post("/counter", nil)
	b.expect(200, "/profile", `id="count">2<`)

	// No token, a wrong token, and a cross-site request are all refused.
	b.post("/counter", url.Values{"csrf_token": {""}})
	b.expect(403, "/counter", "Forbidden")
	b.get("/profile")
	b.post("/counter", url.Values{"csrf_token": {"AAAA"}})
	b.expect(403, "/counter", "Forbidden")
	b.get("/profile")
	tok := csrfRE.FindStringSubmatch(b.page)[1]
	req, _ := http.NewRequest("POST", srv.URL+"/counter", strings.NewReader("csrf_token="+url.QueryEscape(tok)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	b.do(req)
	if b.code != 403 {
		t.Fatalf("cross-site POST: %d", b.code)
	}
	if n := b.count(); n != 2 {
		t.Fatalf("counter = %d after refused requests, want 2", n)
	}

	// The counter belongs to the session: another login starts at zero.
	other := newBrowser(t, srv)
	other.login(password)
	if n := other.count(); n != 0 {
		t.Fatalf("second session counter = %d, want 0", n)
	}
}

var handleRE = regexp.MustCompile(`name="handle" value="([^"]+)"`)

func TestDevicesAndRevoke(t *testing.T) {
	srv := newServer(t)
	a, b := newBrowser(t, srv), newBrowser(t, srv)
	a.login(password)
	b.login(password)

	a.get("/devices")
	a.expect(200, "/devices", "This device")
	if n := strings.Count(a.page, `<tr class="current">`); n != 1 {
		t.Fatalf("%d current rows", n)
	}
	if n := strings.Count(a.page, `<tr class="other">`); n != 1 {
		t.Fatalf("%d other rows", n)
	}
	if !strings.Contains(a.page, "Go HTTP client") || !strings.Contains(a.page, "127.0.0.1") {
		t.Fatalf("device details missing:\n%s", a.page)
	}
	handle := handleRE.FindStringSubmatch(a.page)[1]

	a.post("/devices/revoke", url.Values{"handle": {handle}})
	a.expect(200, "/devices", "The session was logged out.")
	if strings.Contains(a.page, `<tr class="other">`) {
		t.Fatal("revoked session still listed")
	}
	b.get("/profile")
	b.expect(200, "/login", `id="login"`)

	// Revoking it again, or a made-up handle, is reported, not an error.
	a.post("/devices/revoke", url.Values{"handle": {handle}})
	a.expect(200, "/devices", "That session had already ended.")
	a.post("/devices/revoke", url.Values{"handle": {"nonsense"}})
	a.expect(200, "/devices", "That session had already ended.")
}

func TestRevokeOthers(t *testing.T) {
	srv := newServer(t)
	a, b, c := newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv)
	for _, x := range []*browser{a, b, c} {
		x.login(password)
	}
	a.get("/devices")
	if n := strings.Count(a.page, "<tr class="); n != 3 {
		t.Fatalf("%d devices, want 3", n)
	}
	a.post("/devices/revoke-others", nil)
	a.expect(200, "/devices", "Every other session was logged out.")
	if n := strings.Count(a.page, "<tr class="); n != 1 {
		t.Fatalf("%d devices after revoke-others, want 1", n)
	}
	for _, x := range []*browser{b, c} {
		x.get("/profile")
		x.expect(200, "/login", `id="login"`)
	}
	a.get("/profile")
	a.expect(200, "/profile", `id="count"`)
}

func TestChangePassword(t *testing.T) {
	srv := newServer(t)
	a, b := newBrowser(t, srv), newBrowser(t, srv)
	a.login(password)
	b.login(password)
	a.post("/counter", nil)

	const next = "a brand new password"
	a.get("/password")
	a.post("/password", url.Values{"current": {"wrong"}, "new": {next}, "confirm": {next}})
	a.expect(400, "/password", "The current password is not correct.")
	a.post("/password", url.Values{"current": {password}, "new": {"short"}, "confirm": {"short"}})
	a.expect(400, "/password", "8 to 128 characters")
	a.post("/password", url.Values{"current": {password}, "new": {next}, "confirm": {next + "x"}})
	a.expect(400, "/password", "do not match")

	a.post("/password", url.Values{"current": {password}, "new": {next}, "confirm": {next}})
	a.expect(200, "/devices", "Password changed.")
	if n := a.count(); n != 1 {
		t.Fatalf("the changing session lost its data: counter %d", n)
	}
	b.get("/profile")
	b.expect(200, "/login", `id="login"`)

	b.login(password)
	b.expect(401, "/login", "Invalid username or password.")
	b.post("/login", url.Values{"username": {"demo"}, "password": {next}})
	b.expect(200, "/profile", "Signed in as")
}

func TestStaticAndNotFound(t *testing.T) {
	srv := newServer(t)
	resp, err := http.Get(srv.URL + "/static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Fatal("the stylesheet started a session")
	}
	resp, err = http.Get(srv.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("/nope: %d", resp.StatusCode)
	}
}
