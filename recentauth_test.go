package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/examples/webapp/app"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recentAuthApp has a sensitive route that redirects stale sessions to a
// password re-entry page, and one that answers 401.
func recentAuthApp(maxAge time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			http.Error(w, "error", http.StatusConflict)
			return
		}
		fmt.Fprint(w, "logged in")
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		// A real page checks the password first.
		if err := session.FromContext(r.Context()).Reauthenticate(r.Context()); err != nil {
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, "confirmed")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).UserID())
	})
	sensitive := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "sensitive:"+session.FromContext(r.Context()).UserID())
	})
	toReauth := http.RedirectHandler("/reauth", http.StatusSeeOther)
	mux.Handle("GET /account/delete", session.RequireRecentAuth(maxAge, toReauth)(sensitive))
	mux.Handle("GET /api/keys", session.RequireRecentAuth(maxAge, nil)(sensitive))
	return mux
}

func TestRequireRecentAuth(t *testing.T) {
	const maxAge = 5 * time.Minute
	clk := newFakeClock()
	e := newEnv(t, session.Config{Clock: clk.Now}, recentAuthApp(maxAge))
	c := e.client()

	// Anonymous: stale.
	res, _ := c.get("/account/delete")
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/reauth", res.Header.Get("Location"))
	res, body := c.get("/api/keys")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Equal(t, "Unauthorized\n", body)
	// Reauthenticate needs a logged-in session.
	res, _ = c.post("/reauth")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)

	// Fresh login passes, up to and including maxAge.
	res, _ = c.post("/login?u=alice")
	require.Equal(t, http.StatusOK, res.StatusCode)
	res, body = c.get("/account/delete")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "sensitive:alice", body)
	clk.Advance(maxAge)
	res, _ = c.get("/api/keys")
	assert.Equal(t, http.StatusOK, res.StatusCode, "exactly maxAge is still recent")

	// Past maxAge: still logged in, but stale for sensitive routes.
	clk.Advance(time.Nanosecond)
	res, _ = c.get("/account/delete")
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/reauth", res.Header.Get("Location"))
	res, _ = c.get("/api/keys")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	_, body = c.get("/whoami")
	assert.Equal(t, "alice", body, "a stale session is not logged out")

	// Re-authentication renews the ID and makes the session recent again.
	before := c.token()
	require.NotEmpty(t, before)
	res, _ = c.post("/reauth")
	require.Equal(t, http.StatusOK, res.StatusCode)
	after := c.token()
	assert.NotEqual(t, before, after, "Reauthenticate must renew the session ID")
	res, body = c.get("/account/delete")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "sensitive:alice", body)
	assert.Contains(t, e.events.kinds(), session.EventRenewed)

	// The old cookie is dead, for the sensitive route and everywhere else.
	old := e.client()
	old.setToken(before)
	res, _ = old.get("/account/delete")
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	_, body = old.get("/whoami")
	assert.Empty(t, body)

	// And it goes stale again after maxAge.
	clk.Advance(maxAge + time.Second)
	res, _ = c.get("/account/delete")
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
}

func TestRequireRecentAuthFailsClosed(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "ok") })

	// Outside Manager.Handler there is no session: stale.
	rec := httptest.NewRecorder()
	session.RequireRecentAuth(time.Hour, nil)(ok).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code)

	// A maxAge that is not positive never passes, even right after login.
	for _, maxAge := range []time.Duration{0, -time.Minute} {
		m, err := session.New(session.Config{Logger: testLogger()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			require.NoError(t, session.FromContext(r.Context()).Login(r.Context(), "u"))
			session.RequireRecentAuth(maxAge, nil)(ok).ServeHTTP(w, r)
		}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "maxAge %v", maxAge)
	}
}

// The demo app (examples/webapp/app) asks for the password before any
// session can be ended (ASVS 7.5.2) and throttles password checks per
// account. Both share one per-account Limiter, keyed by the account name
// alone, and fed by anonymous POST /login attempts from anywhere.
//
// So whoever holds a stolen session cookie keeps the owner from ever
// logging them out: ten wrong passwords for the owner's name per window,
// from one address of the thief's (the per-IP limit is 20, so one address
// suffices), and the owner's own re-authentication (and password change)
// from the owner's own address is answered 429. "Log out everywhere else"
// and "revoke this device" sit behind that re-authentication, so the
// stolen session lives on for as long as the thief keeps knocking.
func TestRedteam2DemoThiefBlocksOwnerReauth(t *testing.T) {
	const pw = "correct horse battery staple"
	clk := newFakeClock()
	a, err := app.New(app.Config{Password: pw, Iterations: 1000, Clock: clk.Now, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	// Distinct client addresses, as distinct machines would have.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get("X-Test-Remote"); v != "" {
			r.RemoteAddr = v
		}
		a.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e := &env{t: t, m: a.Manager(), srv: srv, events: &eventLog{}}
	csrfRE := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	form := func(c *client, remote, page, action string, v url.Values) *http.Response {
		t.Helper()
		_, body := c.do("GET", page, nil, "X-Test-Remote", remote)
		m := csrfRE.FindStringSubmatch(body)
		require.NotNil(t, m, "no CSRF token on %s", page)
		v.Set("csrf_token", m[1])
		res, _ := c.do("POST", action, strings.NewReader(v.Encode()),
			"Content-Type", "application/x-www-form-urlencoded", "X-Test-Remote", remote)
		return res
	}
	const ownerIP, thiefIP = "198.51.100.7:40000", "203.0.113.9:50000"

	owner := e.client()
	res := form(owner, ownerIP, "/login", "/login", url.Values{"username": {"demo"}, "password": {pw}})
	require.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Equal(t, "/profile", res.Header.Get("Location"))

	// Later: the owner notices a device they do not know (a stolen cookie).
	clk.Advance(app.RecentAuth + time.Minute)
	thief := e.client()
	for range app.DefaultLoginPerAccount { // nine guesses fill it: the owner's login counted
		res = form(thief, thiefIP, "/login", "/login", url.Values{"username": {"demo"}, "password": {"guess"}})
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusTooManyRequests}, res.StatusCode)
	}

	// The owner, from their own address, with the right password.
	res = form(owner, ownerIP, "/reauth", "/reauth", url.Values{"password": {pw}})
	assert.Equal(t, http.StatusSeeOther, res.StatusCode,
		"the owner's re-authentication (the gate to logging the thief out) is refused: %d Retry-After %q",
		res.StatusCode, res.Header.Get("Retry-After"))
}
