package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/webapp/app"
)

// clock is a settable time source for the app (sessions and login limits).
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newAppServer(t *testing.T, cfg app.Config) (*app.App, *httptest.Server) {
	t.Helper()
	cfg.Password = password
	if cfg.Iterations == 0 {
		cfg.Iterations = 1000
	}
	a, err := app.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = a.Close()
	})
	return a, srv
}

// retryAfter returns the Retry-After of the last response in seconds, and
// fails unless it is a positive integer no longer than max.
func (b *browser) retryAfter(maxWait time.Duration) int {
	b.t.Helper()
	v := b.resp.Header.Get("Retry-After")
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 || time.Duration(n)*time.Second > maxWait {
		b.t.Fatalf("Retry-After %q, want 1 to %v seconds", v, maxWait.Seconds())
	}
	return n
}

// 50 wrong passwords from one client: the first LoginPerAccount are checked
// (401), the rest are refused with 429 and Retry-After without hashing
// anything; even the right password is refused until Retry-After has
// passed, and accepted from then on.
func TestLoginThrottledPerAccount(t *testing.T) {
	clk := newClock()
	a, srv := newAppServer(t, app.Config{Clock: clk.Now})
	b := newBrowser(t, srv)
	b.get("/login")
	wait := 0
	for i := 1; i <= 50; i++ {
		b.post("/login", url.Values{"username": {"demo"}, "password": {"wrong " + strconv.Itoa(i)}})
		if i <= app.DefaultLoginPerAccount {
			b.expect(401, "/login", "Invalid username or password.")
			continue
		}
		b.expect(429, "/login", "Too many password attempts.")
		wait = b.retryAfter(2 * app.DefaultLoginWindow)
	}
	if n := a.PasswordChecks(); n != app.DefaultLoginPerAccount {
		t.Fatalf("%d password hashes computed for 50 attempts, want %d", n, app.DefaultLoginPerAccount)
	}

	b.post("/login", url.Values{"username": {"demo"}, "password": {password}})
	b.expect(429, "/login", "Too many password attempts.")
	clk.Advance(time.Duration(wait-1) * time.Second)
	b.post("/login", url.Values{"username": {"demo"}, "password": {password}})
	b.expect(429, "/login", "Too many password attempts.")
	if left := b.retryAfter(2 * time.Second); left != 1 {
		t.Fatalf("one second before the end, Retry-After %d", left)
	}
	clk.Advance(time.Second)
	b.post("/login", url.Values{"username": {"demo"}, "password": {password}})
	b.expect(200, "/profile", "Signed in as")
}

// rawClient posts the login form from chosen client addresses, through the
// app's handler, with the CSRF token and cookie of one login page.
type rawClient struct {
	t      *testing.T
	h      http.Handler
	token  string
	cookie []*http.Cookie
}

func newRawClient(t *testing.T, a *app.App) *rawClient {
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		t.Fatal("no CSRF token")
	}
	return &rawClient{t: t, h: a.Handler(), token: m[1], cookie: rec.Result().Cookies()}
}

func (c *rawClient) login(remote, user, pw string) *http.Response {
	form := url.Values{"csrf_token": {c.token}, "username": {user}, "password": {pw}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = remote
	for _, ck := range c.cookie {
		req.AddCookie(ck)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	return rec.Result()
}

func (c *rawClient) expect(resp *http.Response, code int, what string) {
	c.t.Helper()
	if resp.StatusCode != code {
		c.t.Fatalf("%s: status %d, want %d", what, resp.StatusCode, code)
	}
	if ra := resp.Header.Get("Retry-After"); (code == 429) != (ra != "") {
		c.t.Fatalf("%s: status %d with Retry-After %q", what, resp.StatusCode, ra)
	}
}

// One address trying many names is stopped at LoginPerIP, whatever the
// names; an IPv6 client is counted per /64; other clients are unaffected.
func TestLoginThrottledPerIP(t *testing.T) {
	a, _ := newAppServer(t, app.Config{LoginPerIP: 5, LoginPerAccount: 100})
	c := newRawClient(t, a)
	for _, ips := range [][2]string{
		{"203.0.113.5:1000", "203.0.113.5:2000"},
		{"[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff::9]:1000"},
	} {
		for i := range 5 {
			c.expect(c.login(ips[0], fmt.Sprintf("user%d", i), "guess"), 401, fmt.Sprintf("%s attempt %d", ips[0], i+1))
		}
		checks := a.PasswordChecks()
		c.expect(c.login(ips[1], "someone-else", "guess"), 429, "6th attempt from "+ips[1])
		c.expect(c.login(ips[1], "demo", password), 429, "the right password from "+ips[1])
		if a.PasswordChecks() != checks {
			t.Fatal("a throttled attempt computed a hash")
		}
	}
	c.expect(c.login("198.51.100.7:1000", "demo", password), http.StatusSeeOther, "another client")
}

// An account attacked from many addresses is stopped at LoginPerAccount;
// other accounts are unaffected.
func TestLoginThrottledPerAccountAcrossIPs(t *testing.T) {
	a, _ := newAppServer(t, app.Config{LoginPerAccount: 3})
	c := newRawClient(t, a)
	for i := range 3 {
		c.expect(c.login(fmt.Sprintf("203.0.113.%d:1000", i+1), "demo", "guess"), 401, fmt.Sprintf("attempt %d", i+1))
	}
	c.expect(c.login("203.0.113.99:1000", "demo", password), 429, "4th attempt, from a new address")
	c.expect(c.login("203.0.113.99:1000", "alice", "guess"), 401, "another account")
}

// Ending sessions needs the password when it was last entered more than
// RecentAuth ago: the request goes to a page asking for it, a wrong one
// changes nothing, and after the right one the revocation works.
func TestRevokeNeedsRecentPassword(t *testing.T) {
	clk := newClock()
	_, srv := newAppServer(t, app.Config{Clock: clk.Now})
	a, b := newBrowser(t, srv), newBrowser(t, srv)
	a.login(password)
	b.login(password)
	clk.Advance(app.RecentAuth + time.Second)

	a.get("/devices")
	handle := handleRE.FindStringSubmatch(a.page)[1]
	a.post("/devices/revoke", url.Values{"handle": {handle}})
	a.expect(200, "/reauth", "Enter your password again to log out other sessions.")
	a.get("/devices")
	a.post("/devices/revoke-others", nil)
	a.expect(200, "/reauth", "Enter your password again")
	b.get("/profile")
	b.expect(200, "/profile", "Signed in as")

	a.post("/reauth", url.Values{"password": {"wrong"}})
	a.expect(401, "/reauth", "The password is not correct.")
	a.get("/devices")
	a.post("/devices/revoke", url.Values{"handle": {handle}})
	a.expect(200, "/reauth", "Enter your password again")
	b.get("/profile")
	b.expect(200, "/profile", "Signed in as")

	a.post("/reauth", url.Values{"password": {password}})
	a.expect(200, "/devices", "Password confirmed.")
	a.post("/devices/revoke", url.Values{"handle": {handle}})
	a.expect(200, "/devices", "The session was logged out.")
	b.get("/profile")
	b.expect(200, "/login", `id="login"`)

	// The confirmation lasts RecentAuth.
	c := newBrowser(t, srv)
	c.login(password)
	clk.Advance(app.RecentAuth + time.Second)
	a.get("/devices")
	a.post("/devices/revoke-others", nil)
	a.expect(200, "/reauth", "Enter your password again")
	a.post("/reauth", url.Values{"password": {password}})
	a.post("/devices/revoke-others", nil)
	a.expect(200, "/devices", "Every other session was logged out.")
	c.get("/profile")
	c.expect(200, "/login", `id="login"`)
}

// The re-authentication page and the password change check a password too:
// they share the limits of the login form.
func TestPasswordChecksAreThrottled(t *testing.T) {
	a, srv := newAppServer(t, app.Config{LoginPerAccount: 4})
	b := newBrowser(t, srv)
	// Checks made from a logged-in session share that session's allowance
	// (not the account's: a stranger's wrong logins must not lock the owner
	// out of re-authenticating, see TestRedteam2DemoThiefBlocksOwnerReauth).
	b.login(password)
	b.get("/reauth")
	b.post("/reauth", url.Values{"password": {"wrong"}}) // 1
	b.expect(401, "/reauth", "not correct")
	b.get("/password")
	b.post("/password", url.Values{"current": {"wrong"}, "new": {"a new password"}, "confirm": {"a new password"}}) // 2
	b.expect(400, "/password", "not correct")
	b.post("/password", url.Values{"current": {"wrong"}, "new": {"a new password"}, "confirm": {"a new password"}}) // 3
	b.post("/password", url.Values{"current": {"wrong"}, "new": {"a new password"}, "confirm": {"a new password"}}) // 4
	checks := a.PasswordChecks()
	b.post("/password", url.Values{"current": {password}, "new": {"a new password"}, "confirm": {"a new password"}})
	b.expect(429, "/password", "Too many password attempts.")
	b.retryAfter(2 * app.DefaultLoginWindow)
	b.get("/reauth")
	b.post("/reauth", url.Values{"password": {password}})
	b.expect(429, "/reauth", "Too many password attempts.")
	b.retryAfter(2 * app.DefaultLoginWindow)
	if a.PasswordChecks() != checks {
		t.Fatal("a throttled attempt computed a hash")
	}
}

// flakyStore is the memory store whose next failRevoke RevokeUser calls fail.
type flakyStore struct {
	*session.MemoryStore
	failRevoke atomic.Int32
}

func (s *flakyStore) RevokeUser(ctx context.Context, userID string) error {
	if s.failRevoke.Add(-1) >= 0 {
		return errors.New("flaky store: revoke user failed")
	}
	return s.MemoryStore.RevokeUser(ctx, userID)
}

// Rotate fails like RevokeUser for the renewal of RevokeOthers, which
// revokes the user's other sessions in the same store step.
func (s *flakyStore) Rotate(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	if rot.RevokeUser && s.failRevoke.Add(-1) >= 0 {
		return nil, errors.New("flaky store: revoke others failed")
	}
	return s.MemoryStore.Rotate(ctx, rot)
}

// The password change ends the other sessions before it saves the new
// password. When ending them alone fails, every session ends (this one
// too) and the new password is saved; when that fails too, nothing changes.
func TestChangePasswordRevokesBeforeSaving(t *testing.T) {
	const next = "a brand new password"
	change := func(t *testing.T, failures int32) (a, b *browser, srv *httptest.Server) {
		st := &flakyStore{MemoryStore: session.NewMemoryStore()}
		t.Cleanup(func() { _ = st.Close() })
		_, srv = newAppServer(t, app.Config{Store: st})
		a, b = newBrowser(t, srv), newBrowser(t, srv)
		a.login(password)
		b.login(password)
		a.get("/password")
		st.failRevoke.Store(failures)
		a.post("/password", url.Values{"current": {password}, "new": {next}, "confirm": {next}})
		st.failRevoke.Store(0)
		return a, b, srv
	}

	t.Run("fallback to log out everywhere", func(t *testing.T) {
		a, b, srv := change(t, 1)
		a.expect(200, "/password", "Password changed. Every session was logged out, this one too")
		for _, x := range []*browser{a, b} {
			x.get("/profile")
			x.expect(200, "/login", `id="login"`)
		}
		c := newBrowser(t, srv)
		c.login(password)
		c.expect(401, "/login", "Invalid username or password.")
		c.post("/login", url.Values{"username": {"demo"}, "password": {next}})
		c.expect(200, "/profile", "Signed in as")
	})

	t.Run("nothing changes when sessions cannot be ended", func(t *testing.T) {
		a, b, srv := change(t, 2)
		a.expect(500, "/password", "Internal Server Error")
		for _, x := range []*browser{a, b} {
			x.get("/profile")
			x.expect(200, "/profile", "Signed in as")
		}
		c := newBrowser(t, srv)
		c.login(next)
		c.expect(401, "/login", "Invalid username or password.")
		c.login(password)
		c.expect(200, "/profile", "Signed in as")
	})
}
