package session_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// csrfFormApp logs in (with remember-me on /login-remember), renders a form's
// CSRF token on GET /form and accepts POST /submit (behind Manager.CSRF).
func csrfFormApp(m *session.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "alice")
	})
	mux.HandleFunc("POST /login-remember", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "alice", session.Remember())
	})
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, session.CSRFToken(r))
	})
	mux.Handle("POST /submit", m.CSRF(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok "+session.FromContext(r.Context()).UserID())
	})))
	return m.Handler(mux)
}

// submitForm posts token as the form field with the session cookie.
func submitForm(h http.Handler, cookie, token string) string {
	r := httptest.NewRequest(http.MethodPost, "https://example.com/submit", strings.NewReader(url.Values{session.CSRFField: {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Cookie", cookie)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Body.String()
}

// TestFormsSurviveARenewalAtCommit: a renewal made as a page navigation's
// response goes out (a remembered session's periodic renewal, the move off
// the legacy cookie name) comes after the handler rendered the page's
// forms: their CSRF tokens, and those of pages rendered before, must still
// be accepted with the new ID, or the user's next form fails with 403. (A
// Login or Renew, a privilege change, gets a new CSRF secret.)
func TestFormsSurviveARenewalAtCommit(t *testing.T) {
	t.Run("legacy cookie name", func(t *testing.T) {
		st := session.NewMemoryStore()
		before, m := earlierRelease(t, st)
		h, old := csrfFormApp(m), csrfFormApp(before)
		legacy := setCookies(serveCookie(old, http.MethodPost, "/login", ""))["__Host-sid"]
		require.NotNil(t, legacy)
		suiteTokens.Store(legacy.Value, struct{}{})
		earlier := serveCookie(old, http.MethodGet, "/form", "__Host-sid="+legacy.Value).Body.String()

		w := serveCookie(h, http.MethodGet, "/form", "__Host-sid="+legacy.Value)
		moved := setCookies(w)["__Host-Http-sid"]
		require.NotNil(t, moved, "the navigation moves the session")
		suiteTokens.Store(moved.Value, struct{}{})
		for name, tok := range map[string]string{"rendered on the moving navigation": w.Body.String(), "rendered by the earlier release": earlier} {
			assert.Equal(t, "ok alice", submitForm(h, "__Host-Http-sid="+moved.Value, tok), name)
		}
	})
	for name, newStore := range map[string]func(t *testing.T) session.Store{
		"memory": func(*testing.T) session.Store { return session.NewMemoryStore(session.WithSweepInterval(0)) },
		"cookie": func(t *testing.T) session.Store {
			cs, err := session.NewCookieStore(newKey(t))
			require.NoError(t, err)
			return cs
		},
	} {
		t.Run("remembered session/"+name, func(t *testing.T) { testFormsSurviveRememberedRenewal(t, newStore(t)) })
	}
	t.Run("login gets a new secret", func(t *testing.T) {
		m, err := session.New(session.Config{Logger: testLogger()})
		require.NoError(t, err)
		t.Cleanup(func() { _ = m.Close() })
		h := csrfFormApp(m)
		first := setCookies(serveCookie(h, http.MethodPost, "/login", ""))["__Host-Http-sid"]
		require.NotNil(t, first)
		suiteTokens.Store(first.Value, struct{}{})
		before := serveCookie(h, http.MethodGet, "/form", "__Host-Http-sid="+first.Value).Body.String()
		again := setCookies(serveCookie(h, http.MethodPost, "/login", "__Host-Http-sid="+first.Value))["__Host-Http-sid"]
		require.NotNil(t, again)
		suiteTokens.Store(again.Value, struct{}{})
		assert.NotContains(t, submitForm(h, "__Host-Http-sid="+again.Value, before), "ok", "a token from before the login is refused")
	})
}

// testFormsSurviveRememberedRenewal is the remembered-session case of
// TestFormsSurviveARenewalAtCommit on st.
func testFormsSurviveRememberedRenewal(t *testing.T, st session.Store) {
	clk := newFakeClock()
	m, err := session.New(session.Config{Clock: clk.Now, Store: st, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	h := csrfFormApp(m)
	first := setCookies(serveCookie(h, http.MethodPost, "/login-remember", ""))["__Host-Http-sid"]
	require.NotNil(t, first)
	suiteTokens.Store(first.Value, struct{}{})
	w := serveCookie(h, http.MethodGet, "/form", "__Host-Http-sid="+first.Value)
	earlier, cur := w.Body.String(), first.Value
	if c := setCookies(w)["__Host-Http-sid"]; c != nil {
		cur = c.Value // a sealed cookie now carrying the CSRF secret
	}

	clk.Advance(25 * time.Hour) // past Remember.RenewEvery (a day)
	w = serveCookie(h, http.MethodGet, "/form", "__Host-Http-sid="+cur)
	renewed := setCookies(w)["__Host-Http-sid"]
	require.NotNil(t, renewed, "the navigation renews the ID")
	require.NotEqual(t, cur, renewed.Value)
	suiteTokens.Store(renewed.Value, struct{}{})
	for name, tok := range map[string]string{"rendered on the renewing navigation": w.Body.String(), "rendered before": earlier} {
		assert.Equal(t, "ok alice", submitForm(h, "__Host-Http-sid="+renewed.Value, tok), name)
	}
}
