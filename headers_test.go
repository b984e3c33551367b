package session_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newOuterEnv is newEnv with outer middleware around the Manager's Handler,
// as an application stacks its security-header middleware outside it.
func newOuterEnv(t *testing.T, cfg session.Config, h http.Handler, outer func(http.Handler) http.Handler) *env {
	t.Helper()
	ev := &eventLog{}
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	if cfg.OnEvent == nil {
		cfg.OnEvent = ev.add
	}
	m, err := session.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	srv := httptest.NewTLSServer(outer(m.Handler(h)))
	t.Cleanup(srv.Close)
	return &env{t: t, m: m, srv: srv, events: ev}
}

var securityHeaders = map[string]string{
	"Content-Security-Policy":      "default-src 'self'",
	"X-Frame-Options":              "DENY",
	"Referrer-Policy":              "no-referrer",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Strict-Transport-Security":    "max-age=63072000",
	"X-Content-Type-Options":       "nosniff",
	"Permissions-Policy":           "camera=()",
	"Cross-Origin-Resource-Policy": "same-origin",
}

func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range securityHeaders {
			w.Header().Set(k, v)
		}
		w.Header().Set("Set-Cookie", "outer=outer-middleware-cookie; Path=/; Secure; HttpOnly")
		next.ServeHTTP(w, r)
	})
}

// An error response (the store failed at the commit) keeps the security
// headers outer middleware set before Handler ran, and drops what the
// handler added. Before: every header was deleted, CSP and frame policy
// included.
func TestErrorResponseKeepsOuterHeaders(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Handler-Detail", "secret-detail")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		_ = session.FromContext(r.Context()).Set("a", "1")
		_, _ = w.Write([]byte("{}"))
	})
	e := newOuterEnv(t, session.Config{Store: failingStore{}}, app, withSecurityHeaders)
	res, body := e.client().get("/")
	require.Equal(t, http.StatusInternalServerError, res.StatusCode, body)
	for k, v := range securityHeaders {
		assert.Equal(t, v, res.Header.Get(k), k)
	}
	assert.Empty(t, res.Header.Get("X-Handler-Detail"), "the handler's headers are dropped")
	assert.NotContains(t, res.Header.Get("Content-Type"), "json")
	assert.Empty(t, res.Header.Values("Set-Cookie"), "an error response sets no cookie")
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
	assert.NotContains(t, body, "secret-detail")

	// The success path is unchanged: outer headers and the session cookie.
	ok := newOuterEnv(t, session.Config{}, app, withSecurityHeaders)
	res, _ = ok.client().get("/")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, "DENY", res.Header.Get("X-Frame-Options"))
	assert.NotNil(t, sessionCookie(res))
}
