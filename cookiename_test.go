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

// earlierRelease returns a Manager of the earlier release on st (the default
// cookie name was __Host-sid) and the default one of this release.
func earlierRelease(t *testing.T, st session.Store) (before, m *session.Manager) {
	t.Helper()
	before, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = before.Close() })
	m, err = session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return before, m
}

// TestLegacyCookieNameIsMoved: a session the earlier release issued under
// __Host-sid still logs in after the upgrade, and its first response moves
// it under __Host-Http-sid with a new ID (its key is in the earlier
// releases' domain: TestScriptCannotPlantSessionUnderLegacyName), deleting
// the old cookie, on every route.
func TestLegacyCookieNameIsMoved(t *testing.T) {
	st := session.NewMemoryStore()
	before, m := earlierRelease(t, st)
	h := m.Handler(cookieNameApp())
	for _, path := range []string{"/whoami", "/static"} {
		legacy := setCookies(serveCookie(before.Handler(cookieNameApp()), http.MethodPost, "/login", ""))["__Host-sid"]
		require.NotNil(t, legacy)
		suiteTokens.Store(legacy.Value, struct{}{})
		w := serveCookie(h, http.MethodGet, path, "__Host-sid="+legacy.Value)
		if path == "/whoami" {
			assert.Equal(t, "alice", w.Body.String(), "the old name still logs in")
		}
		got := setCookies(w)
		moved := got["__Host-Http-sid"]
		require.NotNil(t, moved, path)
		suiteTokens.Store(moved.Value, struct{}{})
		assert.NotEqual(t, legacy.Value, moved.Value, "%s: moved under a new ID", path)
		require.NotNil(t, got["__Host-sid"], path)
		assert.Equal(t, -1, got["__Host-sid"].MaxAge, "%s: the old cookie is deleted", path)
		assert.True(t, got["__Host-sid"].Secure && got["__Host-sid"].HttpOnly)
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))

		// Afterwards, the new name alone: the same user, nothing to set.
		w = serveCookie(h, http.MethodGet, "/whoami", "__Host-Http-sid="+moved.Value)
		assert.Equal(t, "alice", w.Body.String(), path)
		assert.Empty(t, w.Header()["Set-Cookie"], path)
		// The old ID is retired like any renewed one: a request still
		// carrying it (another tab) is anonymous and leaves the cookies alone.
		w = serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+legacy.Value)
		assert.Empty(t, w.Body.String(), path)
		assert.Empty(t, w.Header()["Set-Cookie"], path)

		// Both at once: the new one is read.
		w = serveCookie(h, http.MethodGet, "/whoami", "__Host-sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; __Host-Http-sid="+moved.Value)
		assert.Equal(t, "alice", w.Body.String())
	}

	// A page's fetch, in flight beside the navigation that moves the
	// session, is served under the old name and moves nothing: renewing
	// there would leave the page's other requests with a retired ID.
	legacy := setCookies(serveCookie(before.Handler(cookieNameApp()), http.MethodPost, "/login", ""))["__Host-sid"]
	require.NotNil(t, legacy)
	suiteTokens.Store(legacy.Value, struct{}{})
	for range 2 {
		r := httptest.NewRequest(http.MethodGet, "https://example.com/whoami", nil)
		r.Header.Set("Cookie", "__Host-sid="+legacy.Value)
		r.Header.Set("Sec-Fetch-Mode", "cors")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, "alice", w.Body.String(), "a fetch is served under the old name")
		assert.Empty(t, w.Header()["Set-Cookie"], "a fetch neither moves the session nor deletes the old cookie")
	}
	w := serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+legacy.Value)
	assert.Equal(t, "alice", w.Body.String(), "the next navigation moves it")
	require.NotNil(t, setCookies(w)["__Host-Http-sid"])
	suiteTokens.Store(setCookies(w)["__Host-Http-sid"].Value, struct{}{})

	// An old cookie naming no session: both names are cleared, nobody is
	// logged in.
	w = serveCookie(h, http.MethodGet, "/whoami", "__Host-sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
	assert.Empty(t, w.Body.String())
	got := setCookies(w)
	require.NotNil(t, got["__Host-sid"])
	assert.Equal(t, -1, got["__Host-sid"].MaxAge)
}

// TestScriptCannotPlantSessionUnderLegacyName: the point of the
// __Host-Http- prefix is that no script can put a session into the
// browser. A script can still write __Host-sid (the __Host- prefix does
// not stop document.cookie), which is read when __Host-Http-sid is absent
// (logged out, or pushed out of the jar). A session this release issued
// under __Host-Http-sid (the attacker's own, logged in) was never a legacy
// cookie: planted as __Host-sid it must not be adopted, or the victim
// works in the attacker's account. Its store key is in the current name's
// domain, so under the legacy name it names no record. (A CookieStore's
// seal is bound to the name: TestLegacyCookieNameMovesSealedCookies.)
func TestScriptCannotPlantSessionUnderLegacyName(t *testing.T) {
	for name, st := range map[string]session.Store{"memory": session.NewMemoryStore(), "redis": session.NewRedisStore(miniredisClient(t))} {
		t.Run(name, func(t *testing.T) {
			before, m := earlierRelease(t, st)
			h := m.Handler(cookieNameApp())

			// The earlier release's session still moves (nobody is logged out).
			legacy := setCookies(serveCookie(before.Handler(cookieNameApp()), http.MethodPost, "/login", ""))["__Host-sid"]
			require.NotNil(t, legacy)
			suiteTokens.Store(legacy.Value, struct{}{})
			w := serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+legacy.Value)
			assert.Equal(t, "alice", w.Body.String(), "a session issued under the old name still logs in")

			// The attacker's session, issued by this release under the new
			// name, planted by a script under the old one.
			attacker := setCookies(serveCookie(h, http.MethodPost, "/login", ""))["__Host-Http-sid"]
			require.NotNil(t, attacker)
			suiteTokens.Store(attacker.Value, struct{}{})
			w = serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+attacker.Value)
			assert.Empty(t, w.Body.String(), "a session issued as __Host-Http-sid, planted as __Host-sid, must not be adopted")
			got := setCookies(w)
			if c := got["__Host-Http-sid"]; c != nil {
				assert.Empty(t, c.Value, "nothing is issued under the prefix that scripts cannot set")
			}
			if assert.NotNil(t, got["__Host-sid"]) {
				assert.Equal(t, -1, got["__Host-sid"].MaxAge, "the planted cookie is deleted")
			}
			// The attacker's own session is untouched.
			w = serveCookie(h, http.MethodGet, "/whoami", "__Host-Http-sid="+attacker.Value)
			assert.Equal(t, "alice", w.Body.String())
		})
	}
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
