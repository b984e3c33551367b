package session_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkit/session"
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
