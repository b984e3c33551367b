package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// TestGracedLegacyCookieIsLeftAlone: during a rolling upgrade, an instance
// of the earlier release renews a session under __Host-sid while a request
// of the same browser, still carrying the old ID under __Host-sid, reaches
// an upgraded instance. The grace rule (Config.RotationGrace) holds for the
// legacy name too: that request is anonymous and must not send
// "__Host-sid=; Max-Age=0", which, arriving after the renewal's response,
// would delete the renewed cookie and log the user out.
func TestGracedLegacyCookieIsLeftAlone(t *testing.T) {
	st := session.NewMemoryStore()
	before, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	defer before.Close()
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	old := before.Handler(cookieNameApp())
	first := setCookies(serveCookie(old, http.MethodPost, "/login", ""))["__Host-sid"]
	require.NotNil(t, first)
	suiteTokens.Store(first.Value, struct{}{})
	renewed := setCookies(serveCookie(old, http.MethodPost, "/login", "__Host-sid="+first.Value))["__Host-sid"]
	require.NotNil(t, renewed)
	suiteTokens.Store(renewed.Value, struct{}{})
	require.NotEqual(t, first.Value, renewed.Value)

	w := serveCookie(m.Handler(cookieNameApp()), http.MethodGet, "/whoami", "__Host-sid="+first.Value)
	assert.Empty(t, w.Body.String(), "the renewed ID is never mapped to the new session")
	for _, c := range w.Result().Cookies() {
		assert.False(t, c.Name == "__Host-sid" && c.MaxAge < 0,
			"a request carrying an ID renewed a moment ago must not delete the browser's cookie: %v", w.Header()["Set-Cookie"])
	}
	// The renewed session, under the old name, still moves.
	w = serveCookie(m.Handler(cookieNameApp()), http.MethodGet, "/whoami", "__Host-sid="+renewed.Value)
	assert.Equal(t, "alice", w.Body.String())
}

// TestLegacyCSRFNonceIsRetiredWithTheFirstSessionCookie: a stateless CSRF
// nonce of the earlier release (__Host-csrf) is read so that forms
// rendered before the upgrade keep working; when the session is first
// stored (here by Login) it takes that nonce's secret, and the nonce
// cookie must go with the first session cookie, as __Host-Http-csrf does.
// A __Host-csrf left behind is read again after a logout, so the
// pre-login token verifies again.
func TestLegacyCSRFNonceIsRetiredWithTheFirstSessionCookie(t *testing.T) {
	m, err := session.New(session.Config{Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(session.CSRFToken(r))) })
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "alice")
	})
	mux.HandleFunc("POST /any", func(http.ResponseWriter, *http.Request) {})
	h := m.Handler(m.CSRF(mux))
	w := serveCookie(h, http.MethodGet, "/form", "")
	token := w.Body.String()
	nonce := setCookies(w)["__Host-Http-csrf"]
	require.NotNil(t, nonce)

	// The browser holds the nonce under the old name (a form rendered by
	// the earlier release) and logs in with that form's token.
	r := httptest.NewRequest(http.MethodPost, "https://example.com/login", nil)
	r.Header.Set("Cookie", "__Host-csrf="+nonce.Value)
	r.Header.Set(session.CSRFHeader, token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code)
	got := setCookies(rec)
	require.NotNil(t, got["__Host-Http-sid"], "logged in")
	suiteTokens.Store(got["__Host-Http-sid"].Value, struct{}{})
	old := got["__Host-csrf"]
	require.NotNil(t, old, "the old nonce cookie is expired with the first session cookie: %v", rec.Header()["Set-Cookie"])
	assert.Less(t, old.MaxAge, 0)
}

// TestLegacyCookieDeletionIsNotCacheable: every response that carries
// Set-Cookie also carries Cache-Control: no-store (DESIGN.md). A browser
// that still sends __Host-sid next to __Host-Http-sid gets the old cookie
// deleted on whatever route it asks for, a public asset included: that
// response must not be stored by a shared cache either.
func TestLegacyCookieDeletionIsNotCacheable(t *testing.T) {
	m, err := session.New(session.Config{Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	mux := http.NewServeMux()
	mux.Handle("/", cookieNameApp())
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) { _ = session.FromContext(r.Context()).Set("k", "v") })
	mux.HandleFunc("GET /asset.css", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write([]byte("body{}"))
	})
	h := m.Handler(mux)
	user := setCookies(serveCookie(h, http.MethodPost, "/login", ""))["__Host-Http-sid"]
	require.NotNil(t, user)
	anon := setCookies(serveCookie(h, http.MethodPost, "/set", ""))["__Host-Http-sid"]
	require.NotNil(t, anon)
	for _, tok := range []string{user.Value, anon.Value} {
		suiteTokens.Store(tok, struct{}{})
		for _, path := range []string{"/asset.css", "/static", "/whoami"} {
			w := serveCookie(h, http.MethodGet, path, "__Host-sid=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA; __Host-Http-sid="+tok)
			require.Equal(t, http.StatusOK, w.Code)
			if len(w.Header()["Set-Cookie"]) == 0 {
				continue
			}
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"), "%s: Set-Cookie %v", path, w.Header()["Set-Cookie"])
			assert.Contains(t, w.Header().Values("Vary"), "Cookie", path)
		}
	}
}

// afterLoadStore runs a hook once, right after a Load returned: it lands
// another request between a request's load and its response.
type afterLoadStore struct {
	*hookStore
	afterLoad atomic.Pointer[func()]
}

func (a *afterLoadStore) Load(ctx context.Context, key string) (*session.Record, error) {
	r, err := a.hookStore.Load(ctx, key)
	if f := a.afterLoad.Swap(nil); f != nil {
		(*f)()
	}
	return r, err
}

// TestLegacyMoveDoesNotUndoAConcurrentRenewal: right after the upgrade, a
// page's requests all carry __Host-sid. One of them renews the session
// (a Login, Reauthenticate, or a remembered session's periodic renewal) and
// answers __Host-Http-sid=<new ID>; another, which loaded the session just
// before the renewal and answers just after it, moves the old ID to
// __Host-Http-sid. The browser keeps the last cookie it receives: the
// retired ID, refused once the grace period ends, and the user is logged
// out by the upgrade. Without the legacy name, that second request sends
// no Set-Cookie at all.
func TestLegacyMoveDoesNotUndoAConcurrentRenewal(t *testing.T) {
	st := &afterLoadStore{hookStore: &hookStore{Store: session.NewMemoryStore()}}
	before, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	defer before.Close()
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	h := m.Handler(cookieNameApp())
	legacy := setCookies(serveCookie(before.Handler(cookieNameApp()), http.MethodPost, "/login", ""))["__Host-sid"]
	require.NotNil(t, legacy)
	suiteTokens.Store(legacy.Value, struct{}{})

	var renewal *httptest.ResponseRecorder
	hook := func() { renewal = serveCookie(h, http.MethodPost, "/login", "__Host-sid="+legacy.Value) }
	st.afterLoad.Store(&hook)
	move := serveCookie(h, http.MethodGet, "/static", "__Host-sid="+legacy.Value)
	require.NotNil(t, renewal, "the renewal ran between the other request's load and its response")
	renewed := setCookies(renewal)["__Host-Http-sid"]
	require.NotNil(t, renewed)
	suiteTokens.Store(renewed.Value, struct{}{})

	// The browser applies the responses in the order they end: the
	// renewal's, then the other one's.
	jar := map[string]string{"__Host-sid": legacy.Value}
	applyCookies(jar, renewal, move)
	assert.Equal(t, renewed.Value, jar["__Host-Http-sid"], "the browser must end with the renewed ID")
}

// TestLegacyMoveDoesNotDeleteAnOldReleaseRenewal: the same race during a
// rolling upgrade, with the renewal made by an instance of the earlier
// release, which answers __Host-sid=<new ID>. The upgraded instance's
// response, whose session was renewed between its load and its answer,
// must not delete __Host-sid: arriving last, that deletion would log the
// user out.
func TestLegacyMoveDoesNotDeleteAnOldReleaseRenewal(t *testing.T) {
	st := &afterLoadStore{hookStore: &hookStore{Store: session.NewMemoryStore()}}
	before, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
	require.NoError(t, err)
	defer before.Close()
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	old := before.Handler(cookieNameApp())
	legacy := setCookies(serveCookie(old, http.MethodPost, "/login", ""))["__Host-sid"]
	require.NotNil(t, legacy)
	suiteTokens.Store(legacy.Value, struct{}{})

	var renewal *httptest.ResponseRecorder
	hook := func() { renewal = serveCookie(old, http.MethodPost, "/login", "__Host-sid="+legacy.Value) }
	st.afterLoad.Store(&hook)
	move := serveCookie(m.Handler(cookieNameApp()), http.MethodGet, "/static", "__Host-sid="+legacy.Value)
	require.NotNil(t, renewal, "the renewal ran between the other request's load and its response")
	renewed := setCookies(renewal)["__Host-sid"]
	require.NotNil(t, renewed)
	suiteTokens.Store(renewed.Value, struct{}{})

	jar := map[string]string{"__Host-sid": legacy.Value}
	applyCookies(jar, renewal, move)
	assert.Equal(t, renewed.Value, jar["__Host-sid"], "the browser must keep the renewed ID: %v", move.Header()["Set-Cookie"])
	assert.Empty(t, jar["__Host-Http-sid"], "the retired ID is not moved")
}

// TestLegacyCookieDeletionMatchesPartitioned: a partitioned cookie (CHIPS)
// is only replaced or deleted by a Set-Cookie that is Partitioned too. An
// application embedded in other sites (SameSite=None, Partitioned) had its
// __Host-sid and __Host-csrf set partitioned by the earlier release: their
// deletions must be partitioned, or the old cookies stay in every
// embedding site's jar and every response deletes them again.
// (commitCSRFCookie's deletion of __Host-csrf follows csrfCookieHeader,
// which is partitioned with the session cookie.)
func TestLegacyCookieDeletionMatchesPartitioned(t *testing.T) {
	st := session.NewMemoryStore()
	cookie := session.CookieConfig{SameSite: http.SameSiteNoneMode, Partitioned: true}
	m, err := session.New(session.Config{Store: st, Cookie: cookie, Logger: testLogger()})
	require.NoError(t, err)
	defer m.Close()
	h := m.Handler(cookieNameApp())
	cookie.Name = "__Host-sid"
	before, err := session.New(session.Config{Store: st, Cookie: cookie, Logger: testLogger()})
	require.NoError(t, err)
	defer before.Close()
	legacy := setCookies(serveCookie(before.Handler(cookieNameApp()), http.MethodPost, "/login", ""))["__Host-sid"]
	require.NotNil(t, legacy)
	suiteTokens.Store(legacy.Value, struct{}{})

	w := serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+legacy.Value)
	require.Equal(t, "alice", w.Body.String())
	var found bool
	for _, line := range w.Header()["Set-Cookie"] {
		if strings.HasPrefix(line, "__Host-sid=;") {
			found = true
			assert.Contains(t, line, "; Partitioned", "the deletion must target the partitioned cookie")
		}
	}
	require.True(t, found, "the old cookie is deleted: %v", w.Header()["Set-Cookie"])
}

// applyCookies applies the Set-Cookie headers of responses to jar in order,
// as a browser does: a Max-Age below zero deletes the cookie.
func applyCookies(jar map[string]string, responses ...*httptest.ResponseRecorder) {
	for _, w := range responses {
		for _, c := range w.Result().Cookies() {
			if c.MaxAge < 0 {
				delete(jar, c.Name)
			} else {
				jar[c.Name] = c.Value
			}
		}
	}
}

// TestLegacyMoveFailsClosed: moving a session off the legacy name is a
// renewal, a store write. When the store fails it, the response is the
// error handler's: no cookie issued, and the old one kept (deleting it would
// log the user out for a passing fault); the next request moves it.
func TestLegacyMoveFailsClosed(t *testing.T) {
	st := &hookStore{Store: session.NewMemoryStore()}
	before, m := earlierRelease(t, st)
	h := m.Handler(cookieNameApp())
	legacy := setCookies(serveCookie(before.Handler(cookieNameApp()), http.MethodPost, "/login", ""))["__Host-sid"]
	require.NotNil(t, legacy)
	suiteTokens.Store(legacy.Value, struct{}{})

	st.failRotate.Store(true)
	w := serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+legacy.Value)
	assert.Equal(t, http.StatusInternalServerError, w.Code)
	assert.NotContains(t, w.Body.String(), "alice")
	assert.Empty(t, w.Header()["Set-Cookie"], "no cookie is issued or deleted")

	st.failRotate.Store(false)
	w = serveCookie(h, http.MethodGet, "/whoami", "__Host-sid="+legacy.Value)
	assert.Equal(t, "alice", w.Body.String())
	moved := setCookies(w)["__Host-Http-sid"]
	require.NotNil(t, moved)
	suiteTokens.Store(moved.Value, struct{}{})
	assert.NotEqual(t, legacy.Value, moved.Value)
}
