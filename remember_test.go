package session_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// rememberApp adds to testApp a remembered login, the devices list and a
// route behind RequireRecentAuth.
func rememberApp(m func() *session.Manager) http.Handler {
	app := testApp().(*http.ServeMux)
	app.HandleFunc("POST /login-remember", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.URL.Query().Get("u"), session.Remember()); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	app.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		infos, err := m().Sessions(r.Context(), session.FromContext(r.Context()).UserID())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, in := range infos {
			fmt.Fprintf(w, "%v,", in.Remembered)
		}
	})
	app.Handle("GET /sensitive", session.RequireRecentAuth(time.Hour, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "ok")
	})))
	return app
}

// TestRememberMe: a remembered login outlives the normal idle and absolute
// limits (its cookie is persistent, for its own idle limit), ends after its
// own idle limit, is marked on the devices list, and the normal login beside
// it keeps the normal limits.
func TestRememberMe(t *testing.T) {
	clk := newFakeClock()
	var e *env
	e = newEnv(t, session.Config{Clock: clk.Now, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 8 * time.Hour,
		Store: session.NewMemoryStore(session.WithSweepInterval(0))}, rememberApp(func() *session.Manager { return e.m }))

	kept, plain := e.client(), e.client()
	res, _ := kept.post("/login-remember?u=ann")
	require.Equal(t, 200, res.StatusCode)
	ck := sessionCookie(res)
	require.NotNil(t, ck)
	assert.InDelta(t, (7 * 24 * time.Hour).Seconds(), float64(ck.MaxAge), 5, "a remembered session's cookie lasts its idle limit")
	res, _ = plain.post("/login?u=ann")
	require.Equal(t, 200, res.StatusCode)
	assert.Zero(t, sessionCookie(res).MaxAge, "a normal login keeps a session cookie")

	_, body := kept.get("/devices")
	assert.ElementsMatch(t, []string{"true", "false"}, strings.Split(strings.TrimSuffix(body, ","), ","))

	clk.Advance(2 * time.Hour) // past the normal idle limit
	_, who := plain.get("/whoami")
	assert.Empty(t, who, "the normal session keeps the normal idle limit")
	for range 5 { // active past the normal absolute limit: 10 h
		_, who = kept.get("/whoami")
		require.Equal(t, "ann", who)
		clk.Advance(2 * time.Hour)
	}
	clk.Advance(7*24*time.Hour + time.Minute) // idle past its own limit
	_, who = kept.get("/whoami")
	assert.Empty(t, who, "a remembered session must end after its own idle limit")
}

// TestRememberMeRenewsItsID: after each RenewEvery the first page navigation
// gets a new ID (the old one answered as anonymous within the grace, its
// cookie untouched), a background fetch does not, and the renewal keeps
// the authentication time, so RequireRecentAuth still asks for the
// password.
func TestRememberMeRenewsItsID(t *testing.T) {
	clk := newFakeClock()
	var e *env
	e = newEnv(t, session.Config{Clock: clk.Now, Store: session.NewMemoryStore(session.WithSweepInterval(0))},
		rememberApp(func() *session.Manager { return e.m }))
	c := e.client()
	res, _ := c.post("/login-remember?u=ann")
	require.Equal(t, 200, res.StatusCode)
	first := c.token()
	_, body := c.get("/sensitive")
	require.Equal(t, "ok", body, "just logged in: recent")

	clk.Advance(23 * time.Hour)
	c.get("/whoami")
	require.Equal(t, first, c.token(), "no new ID before a day")
	clk.Advance(2 * time.Hour)
	_, who := c.do("GET", "/whoami", nil, "Sec-Fetch-Mode", "cors")
	require.Equal(t, "ann", who)
	require.Equal(t, first, c.token(), "a fetch does not renew the ID")
	for _, purpose := range []string{"prefetch", "prefetch;prerender"} {
		_, who = c.do("GET", "/whoami", nil, "Sec-Fetch-Mode", "navigate", "Sec-Purpose", purpose)
		require.Equal(t, "ann", who)
		require.Equal(t, first, c.token(), "a speculative load (%s) does not renew the ID: the browser may discard it", purpose)
	}
	_, who = c.do("GET", "/whoami", nil, "Sec-Fetch-Mode", "navigate")
	require.Equal(t, "ann", who)
	second := c.token()
	require.NotEqual(t, first, second, "the first navigation after a day renews the ID")
	assert.Contains(t, e.events.kinds(), session.EventRenewed)

	old := e.client()
	old.setToken(first)
	res, who = old.get("/whoami")
	assert.Empty(t, who, "the old ID is dead")
	assert.Nil(t, sessionCookie(res), "within the grace the old ID's cookie is left alone")

	res, body = c.get("/sensitive")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode, "the renewal must not count as a password entry: %s", body)
	_, who = c.get("/whoami")
	assert.Equal(t, "ann", who)
	assert.Equal(t, second, c.token(), "one renewal per period")
}

// TestRememberConfig: limits shorter than the normal ones, or a renewal
// period longer than the idle limit, are configuration errors.
func TestRememberConfig(t *testing.T) {
	for _, r := range []session.RememberConfig{
		{IdleTimeout: time.Minute},
		{AbsoluteTimeout: time.Hour},
		{IdleTimeout: 48 * time.Hour, AbsoluteTimeout: 24 * time.Hour},
		{RenewEvery: 8 * 24 * time.Hour},
		{RenewEvery: -time.Hour},
	} {
		_, err := session.New(session.Config{Remember: r})
		assert.True(t, errors.Is(err, session.ErrInvalidConfig), "%+v: %v", r, err)
	}
	m, err := session.New(session.Config{})
	require.NoError(t, err)
	require.NoError(t, m.Close())
}

// TestRememberMeRenewalRace: two page navigations of one remembered session
// cross the renewal period together (the hook lands the second inside the
// first's store step). One renews the ID; the other, finding it renewed,
// leaves the browser's cookie alone (it may hold the new ID) instead of
// expiring it; the renewed session lives.
func TestRememberMeRenewalRace(t *testing.T) {
	clk := newFakeClock()
	h := &hookStore{Store: session.NewMemoryStore(session.WithSweepInterval(0))}
	t.Cleanup(func() { _ = h.Store.(*session.MemoryStore).Close() })
	var e *env
	e = newEnv(t, session.Config{Clock: clk.Now, Store: h}, rememberApp(func() *session.Manager { return e.m }))
	a := e.client()
	res, _ := a.post("/login-remember?u=ann")
	require.Equal(t, 200, res.StatusCode)
	b := e.client()
	b.setToken(a.token())
	clk.Advance(25 * time.Hour)
	var resB *http.Response
	h.onRotate(func(*session.Rotation) { // a's renewal: b renews first
		resB, _ = b.do("GET", "/whoami", nil, "Sec-Fetch-Mode", "navigate")
	})
	resA, _ := a.do("GET", "/whoami", nil, "Sec-Fetch-Mode", "navigate")
	require.NotNil(t, resB)
	require.NotNil(t, sessionCookie(resB), "the first navigation renews the ID")
	assert.Nil(t, sessionCookie(resA), "the navigation that lost the race must not touch the cookie")
	_, who := b.get("/whoami")
	assert.Equal(t, "ann", who, "the renewed session lives")
}
