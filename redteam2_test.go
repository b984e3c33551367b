package session_test

// Red-team round 2: each test here is a promise of the design invariants (SECURITY.md lists them)
// broken as an attacker (or an ordinary client) would break it. They are
// expected to FAIL until the library is fixed.

import (
	"context"
	"fmt"
	"io"
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

// Invariant: "Changes made after the headers went out are saved when the
// handler returns; ... a failure of that final save is logged and emitted
// as session.store_error, never silently dropped."
//
// A Server-Sent Events handler returns because the client went away: that
// is how every SSE stream ends. By then r.Context() is cancelled, and the
// final commit runs under it (finish -> commitCtx(w.req.Context())). Every
// shipped store refuses a cancelled context (memory: ctx.Err() first;
// go-redis: the same), and storeFailure suppresses the event for
// context.Canceled. So a value set while streaming is dropped with no log
// line and no event: exactly the silent loss the promise rules out.
func TestRedteam2StreamEndedByClientLosesValueSilently(t *testing.T) {
	ready := make(chan struct{})
	finished := make(chan struct{})
	app := testApp().(*http.ServeMux)
	app.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_ = s.GetString("a") // a logged-in page loads its session
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		// While streaming: remember how far the client got.
		assert.NoError(t, s.Set("progress", "42"))
		fmt.Fprint(w, "data: 42\n\n")
		http.NewResponseController(w).Flush()
		close(ready)
		<-r.Context().Done() // the stream ends when the client leaves
	})
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r) // Handler's finish has run when this returns
			if r.URL.Path == "/sse" {
				close(finished)
			}
		})
	}
	e := newOuterEnv(t, session.Config{}, app, outer)
	c := e.client()
	res, _ := c.post("/set?k=a&v=1")
	require.Equal(t, http.StatusOK, res.StatusCode)

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/sse", nil)
	require.NoError(t, err)
	res, err = c.http.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	<-ready
	cancel() // the visitor closes the tab
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("the SSE handler never returned")
	}

	_, got := c.get("/get?k=progress")
	var reported bool
	for _, ev := range storeErrorEvents(e) {
		reported = reported || ev.Reason == "final_commit"
	}
	assert.True(t, got == "42" || reported,
		"a value set while streaming was neither saved (got %q) nor reported as session.store_error; events: %v",
		got, e.events.kinds())
}

// Invariant: "An error response (store failure) keeps the headers that outer
// middleware set before the handler ran (CSP, frame and referrer policies)
// and drops only what the handler added."
//
// The wrapper remembers only the *names* of the outer headers (as 32-bit
// hashes), not their values. A handler that relaxes a policy for its own
// page (an embeddable widget: CSP frame-ancestors *, no X-Frame-Options)
// and then hits a store failure has its relaxed values served on the error
// page: the outer CSP is replaced by the handler's, and the outer
// X-Frame-Options is gone.
func TestRedteam2ErrorResponseServesHandlerModifiedOuterHeaders(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// This page may be framed by anyone.
		w.Header().Set("Content-Security-Policy", "frame-ancestors *")
		w.Header().Del("X-Frame-Options")
		w.Header().Add("Referrer-Policy", "unsafe-url")
		_ = session.FromContext(r.Context()).Set("a", "1")
		fmt.Fprint(w, "widget")
	})
	e := newOuterEnv(t, session.Config{Store: failingStore{}}, app, withSecurityHeaders)
	res, body := e.client().get("/")
	require.Equal(t, http.StatusInternalServerError, res.StatusCode, body)
	assert.Equal(t, securityHeaders["Content-Security-Policy"], res.Header.Get("Content-Security-Policy"),
		"the error page carries the handler's CSP, not the one outer middleware set")
	assert.Equal(t, securityHeaders["X-Frame-Options"], res.Header.Get("X-Frame-Options"),
		"the outer X-Frame-Options is missing from the error page")
	assert.Equal(t, []string{securityHeaders["Referrer-Policy"]}, res.Header.Values("Referrer-Policy"),
		"the error page carries a value the handler added to an outer header")
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
