package session_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cookieNameApp logs in, answers the user, and has a route that never
// touches the session.
func cookieNameApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "alice")
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(session.FromContext(r.Context()).UserID()))
	})
	mux.HandleFunc("GET /static", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("asset")) })
	return mux
}

func serveCookie(h http.Handler, method, path, cookie string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://example.com"+path, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func setCookies(w *httptest.ResponseRecorder) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range w.Result().Cookies() {
		out[c.Name] = c
	}
	return out
}

func TestDefaultCookieNameIsHostHttp(t *testing.T) {
	m, err := session.New(session.Config{Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	w := serveCookie(m.Handler(cookieNameApp()), http.MethodPost, "/login", "")
	ck := setCookies(w)["__Host-Http-sid"]
	require.NotNil(t, ck, "Set-Cookie: %v", w.Header()["Set-Cookie"])
	assert.True(t, ck.Secure && ck.HttpOnly && ck.Path == "/" && ck.Domain == "")
}

// TestLegacyCookieNameIsMoved: a session presented under the name of
// earlier releases (__Host-sid) keeps working, and the response moves it
// to __Host-Http-sid and deletes the old cookie, whatever the route does.
func TestLegacyCookieNameIsMoved(t *testing.T) {
	m, err := session.New(session.Config{Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	h := m.Handler(cookieNameApp())
	token := setCookies(serveCookie(h, http.MethodPost, "/login", ""))["__Host-Http-sid"].Value
	suiteTokens.Store(token, struct{}{})

	for _, path := range []string{"/whoami", "/static"} {
		w := serveCookie(h, http.MethodGet, path, "__Host-sid="+token)
		if path == "/whoami" {
			assert.Equal(t, "alice", w.Body.String(), "the old name still logs in")
		}
		got := setCookies(w)
		require.NotNil(t, got["__Host-Http-sid"], path)
		assert.Equal(t, token, got["__Host-Http-sid"].Value, "%s: the same session under the new name", path)
		require.NotNil(t, got["__Host-sid"], path)
		assert.Equal(t, -1, got["__Host-sid"].MaxAge, "%s: the old cookie is deleted", path)
		assert.True(t, got["__Host-sid"].Secure && got["__Host-sid"].HttpOnly)
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	}
	// Afterwards, the new name alone; both at once read the new one.
	w := serveCookie(h, http.MethodGet, "/whoami", "__Host-Http-sid="+token)
	assert.Equal(t, "alice", w.Body.String())
	assert.Empty(t, w.Header()["Set-Cookie"])
	w = serveCookie(h, http.MethodGet, "/whoami", "__Host-sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; __Host-Http-sid="+token)
	assert.Equal(t, "alice", w.Body.String())

	// An old cookie naming no session: both names are cleared, nobody is
	// logged in.
	w = serveCookie(h, http.MethodGet, "/whoami", "__Host-sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	assert.Empty(t, w.Body.String())
	got := setCookies(w)
	require.NotNil(t, got["__Host-sid"])
	assert.Equal(t, -1, got["__Host-sid"].MaxAge)
}

// TestLegacyCookieNameOnlyForTheDefault: a Manager with its own cookie
// name reads no other name.
func TestLegacyCookieNameOnlyForTheDefault(t *testing.T) {
	for name, cfg := range map[string]session.Config{
		"own name": {Cookie: session.CookieConfig{Name: "__Host-app"}},
	} {
		cfg.Logger = testLogger()
		m, err := session.New(cfg)
		require.NoError(t, err, name)
		h := m.Handler(cookieNameApp())
		var token string
		for _, c := range serveCookie(h, http.MethodPost, "/login", "").Result().Cookies() {
			token = c.Value
		}
		w := serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+token)
		assert.Empty(t, w.Body.String(), name)
		assert.False(t, strings.Contains(strings.Join(w.Header()["Set-Cookie"], "\n"), "__Host-sid="), name)
		_ = m.Close()
	}
}

// TestLegacyCookieNameMovesSealedCookies: a CookieStore session sealed by
// an earlier release under __Host-sid (sealed cookies are bound to their
// name) still opens, is re-sealed under __Host-Http-sid and the old cookie
// deleted; a cookie sealed for the new name does not open under the old
// one.
func TestLegacyCookieNameMovesSealedCookies(t *testing.T) {
	cs, err := session.NewCookieStore(make32(t))
	require.NoError(t, err)
	before, err := session.New(session.Config{Store: cs, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	defer before.Close()
	old := setCookies(serveCookie(before.Handler(cookieNameApp()), http.MethodPost, "/login", ""))["__Host-sid"]
	require.NotNil(t, old)

	m, err := session.New(session.Config{Store: cs, Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	h := m.Handler(cookieNameApp())
	w := serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+old.Value)
	assert.Equal(t, "alice", w.Body.String(), "the sealed cookie of the old name still logs in")
	got := setCookies(w)
	require.NotNil(t, got["__Host-Http-sid"], "Set-Cookie: %v", w.Header()["Set-Cookie"])
	require.NotNil(t, got["__Host-sid"])
	assert.Equal(t, -1, got["__Host-sid"].MaxAge, "the old cookie is deleted")
	w = serveCookie(h, http.MethodGet, "/whoami", "__Host-Http-sid="+got["__Host-Http-sid"].Value)
	assert.Equal(t, "alice", w.Body.String(), "the moved cookie logs in under the new name")

	// A value sealed for the new name, presented under the old one, is
	// bound to the other name and does not open.
	w = serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+got["__Host-Http-sid"].Value)
	assert.Empty(t, w.Body.String())
}

// TestLegacyCSRFNonceCookieIsRead: a stateless CSRF token rendered before
// the nonce cookie was renamed (__Host-csrf) still verifies.
func TestLegacyCSRFNonceCookieIsRead(t *testing.T) {
	m, err := session.New(session.Config{Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	h := m.Handler(m.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(session.CSRFToken(r)))
	})))
	w := serveCookie(h, http.MethodGet, "/form", "")
	token := w.Body.String()
	nonce := setCookies(w)["__Host-Http-csrf"]
	require.NotNil(t, nonce)
	for name, want := range map[string]int{"__Host-Http-csrf": http.StatusOK, "__Host-csrf": http.StatusOK, "csrf": http.StatusForbidden} {
		r := httptest.NewRequest(http.MethodPost, "https://example.com/any", nil)
		r.Header.Set("Cookie", name+"="+nonce.Value)
		r.Header.Set(session.CSRFHeader, token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		assert.Equal(t, want, rec.Code, name)
	}
}
