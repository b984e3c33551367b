package session_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

func TestCallbackPathsMustBeExact(t *testing.T) {
	for _, p := range []string{"/auth/callback", "/oidc/apple/cb", "/cb.v2"} {
		_, err := session.New(session.Config{CallbackPaths: []string{p}})
		assert.NoError(t, err, p)
	}
	for _, p := range []string{"", "/", "auth/callback", "/auth/", "/auth/*", "/auth/{provider}", "/auth/{$}",
		"/auth//cb", "/auth/../admin", "/auth/./cb", "/auth/cb?x=1", "/auth/cb#f", "/auth/c%62", "POST /auth/cb",
		"/auth/cb ", "/auth\\cb"} {
		_, err := session.New(session.Config{CallbackPaths: []string{p}})
		assert.ErrorIs(t, err, session.ErrInvalidConfig, "%q", p)
	}
}

// callbackApp records what reached its handlers.
type callbackApp struct {
	m    *session.Manager
	h    http.Handler
	seen []string
}

func newCallbackApp(t *testing.T) *callbackApp {
	a := &callbackApp{}
	m, err := session.New(session.Config{CallbackPaths: []string{"/auth/callback"}, Logger: testLogger()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		a.seen = append(a.seen, r.Method+" "+r.URL.Path+" state="+r.PostForm.Get("state"))
		_, _ = w.Write([]byte("handled"))
	})
	a.m, a.h = m, m.Handler(m.CSRF(mux))
	return a
}

// post sends a form POST; site is the Sec-Fetch-Site the browser would send.
func (a *callbackApp) post(target, site string, form url.Values) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "https://rp.example"+target, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", site)
	if site == "cross-site" {
		r.Header.Set("Origin", "https://idp.example")
	} else {
		r.Header.Set("Origin", "https://rp.example")
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

func TestCallbackCrossSitePostIsRelayed(t *testing.T) {
	a := newCallbackApp(t)
	form := url.Values{"code": {"c0de"}, "state": {`"><script>alert(1)</script>`}}
	w := a.post("/auth/callback?provider=apple", "cross-site", form)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Empty(t, a.seen, "the handler does not see the cross-site POST")
	assert.Empty(t, w.Result().Cookies(), "no session is started by the relay")
	body := w.Body.String()
	assert.Contains(t, body, `<form method="post" action="/auth/callback?provider=apple">`)
	assert.Contains(t, body, `<input type="hidden" name="code" value="c0de">`)
	assert.Contains(t, body, `value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"`)
	assert.NotContains(t, body, `<script>alert`)
	csp := w.Header().Get("Content-Security-Policy")
	// The page's one script (through the prototype: a field named
	// "submit" would shadow the form's own method) is the one the CSP allows.
	const script = "HTMLFormElement.prototype.submit.call(document.forms[0])"
	sum := sha256.Sum256([]byte(script))
	assert.Contains(t, body, "<script>"+script+"</script>")
	assert.Equal(t, 1, strings.Count(body, "<script>"), "one script")
	assert.Contains(t, csp, "script-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'", "the page's one script is allowed")
	assert.Contains(t, csp, "default-src 'none'")
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	assert.Equal(t, "no-referrer", w.Header().Get("Referrer-Policy"))

	// The page's POST comes from the site itself: it reaches the handler,
	// past Manager.CSRF (no token: the state is the defence).
	w = a.post("/auth/callback?provider=apple", "same-origin", form)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, []string{`POST /auth/callback state="><script>alert(1)</script>`}, a.seen)
}

func TestCallbackExemptionIsForThatPathOnly(t *testing.T) {
	a := newCallbackApp(t)
	form := url.Values{"state": {"s"}}
	for _, target := range []string{"/transfer", "/auth/callback/", "/auth/callback/x", "/auth//callback", "/auth/Callback", "/auth/%63allback"} {
		w := a.post(target, "cross-site", form)
		assert.Equal(t, http.StatusForbidden, w.Code, target)
	}
	// Another method to the path, or a body that is not a form, is refused.
	r := httptest.NewRequest(http.MethodPut, "https://rp.example/auth/callback", strings.NewReader("state=s"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusForbidden, w.Code)
	r = httptest.NewRequest(http.MethodPost, "https://rp.example/auth/callback", strings.NewReader(`{"state":"s"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	w = httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusForbidden, w.Code)
	// A form past CSRFMaxFormBytes is refused.
	w = a.post("/auth/callback", "cross-site", url.Values{"state": {strings.Repeat("x", 70<<10)}})
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Empty(t, a.seen)
	// Same-origin POSTs to other paths still need the CSRF token.
	w = a.post("/transfer", "same-origin", form)
	assert.Equal(t, http.StatusForbidden, w.Code)
	assert.Empty(t, a.seen)
}
