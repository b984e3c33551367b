package tokens_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/tokens"
)

// TestAPIIntegration drives the example's API server next to a cookie app
// with a devices page, over HTTP: a mobile client logs in and calls the
// API, refreshes, the browser's devices page lists it beside the browser,
// a replayed refresh token is caught, a new login is revoked from the
// devices page, and an access token is refused once it expires.
func TestAPIIntegration(t *testing.T) {
	e := newEnv(t, nil, tokens.Config{})
	m, tk := e.m, e.tk
	web := http.NewServeMux()
	web.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.FormValue("u")); err != nil {
			http.Error(w, "no", http.StatusInternalServerError)
		}
	})
	web.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		infos, err := m.Sessions(r.Context(), session.FromContext(r.Context()).UserID())
		if err != nil {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(infos)
	})
	web.HandleFunc("POST /devices/revoke", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Revoke(r.Context(), session.FromContext(r.Context()).UserID(), r.FormValue("handle")); err != nil {
			http.Error(w, "no", http.StatusNotFound)
		}
	})
	root := http.NewServeMux()
	root.Handle("/api/", apiMux(m, tk))
	root.Handle("/", m.Handler(web))
	srv := httptest.NewTLSServer(root)
	t.Cleanup(srv.Close)

	// The mobile app.
	app := srv.Client()
	post := func(c *http.Client, path string, form url.Values) (int, map[string]any) {
		res, err := c.PostForm(srv.URL+path, form)
		require.NoError(t, err)
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		for _, k := range []string{"access_token", "refresh_token"} {
			if v, ok := body[k].(string); ok {
				suiteTokens.Store(v, struct{}{})
			}
		}
		return res.StatusCode, body
	}
	me := func(access string) (int, string, string) {
		r, _ := http.NewRequest("GET", srv.URL+"/api/me", nil)
		r.Header.Set("Authorization", "Bearer "+access)
		res, err := app.Do(r)
		require.NoError(t, err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b)), res.Header.Get("WWW-Authenticate")
	}

	code, pair := post(app, "/api/token", url.Values{"user": {"alice"}})
	require.Equal(t, 200, code)
	code, body, _ := me(pair["access_token"].(string))
	assert.Equal(t, 200, code)
	assert.Equal(t, "hello alice", body)
	code, pair2 := post(app, "/api/refresh", url.Values{"refresh_token": {pair["refresh_token"].(string)}})
	require.Equal(t, 200, code)

	// The browser: log in, see both devices.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Transport: srv.Client().Transport, Jar: jar}
	code, _ = post(browser, "/login", url.Values{"u": {"alice"}})
	require.Equal(t, 200, code)
	devices := func() []session.SessionInfo {
		res, err := browser.Get(srv.URL + "/devices")
		require.NoError(t, err)
		defer res.Body.Close()
		var infos []session.SessionInfo
		require.NoError(t, json.NewDecoder(res.Body).Decode(&infos))
		return infos
	}
	infos := devices()
	require.Len(t, infos, 2, "the API client beside the browser")
	var current int
	for _, in := range infos {
		if in.Current {
			current++
		}
	}
	assert.Equal(t, 1, current)

	// A thief replays the first refresh token past the grace period.
	e.clock.Advance(tokens.DefaultReuseGrace + time.Second)
	code, _ = post(app, "/api/refresh", url.Values{"refresh_token": {pair["refresh_token"].(string)}})
	assert.Equal(t, 401, code, "reuse detected")
	code, _ = post(app, "/api/refresh", url.Values{"refresh_token": {pair2["refresh_token"].(string)}})
	assert.Equal(t, 401, code, "the family is ended for the owner too")
	require.Len(t, devices(), 1, "only the browser is left")
	require.Len(t, e.events.of(session.EventRefreshReused), 1)

	// The owner logs in again; later revokes the app from the browser.
	code, pair3 := post(app, "/api/token", url.Values{"user": {"alice"}})
	require.Equal(t, 200, code)
	var handle string
	for _, in := range devices() {
		if !in.Current {
			handle = in.Handle
		}
	}
	require.NotEmpty(t, handle)
	res, err := browser.PostForm(srv.URL+"/devices/revoke", url.Values{"handle": {handle}})
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode)
	code, _ = post(app, "/api/refresh", url.Values{"refresh_token": {pair3["refresh_token"].(string)}})
	assert.Equal(t, 401, code, "revoked from the devices page")

	// Its access token works until it expires, then is refused.
	code, _, _ = me(pair3["access_token"].(string))
	assert.Equal(t, 200, code, "Verify: no store call until exp")
	e.clock.Advance(tokens.DefaultAccessLifetime)
	code, _, challenge := me(pair3["access_token"].(string))
	assert.Equal(t, 401, code)
	assert.Equal(t, `Bearer error="invalid_token"`, challenge)
}
