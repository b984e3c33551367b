package session_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// moveApp is cookieNameApp with the routes the move's seams need: a
// remembered login, a "remember me" switch and a value write.
func moveApp() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", cookieNameApp())
	mux.HandleFunc("POST /login-remember", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Login(r.Context(), "alice", session.Remember())
	})
	mux.HandleFunc("POST /persist", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).SetPersist(true); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Set("k", r.URL.Query().Get("v"))
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(session.FromContext(r.Context()).GetString("k")))
	})
	return mux
}

// serveJar runs one request carrying the cookies of jar, as a fetch (mode
// "cors") or a page navigation (mode ""), and applies its Set-Cookie
// headers to jar.
func serveJar(h http.Handler, jar map[string]string, method, path, mode string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "https://example.com"+path, nil)
	var parts []string
	for name, v := range jar {
		parts = append(parts, name+"="+v)
	}
	if len(parts) > 0 {
		r.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	if mode != "" {
		r.Header.Set("Sec-Fetch-Mode", mode)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	applyCookies(jar, w)
	for _, c := range w.Result().Cookies() {
		if c.Value != "" {
			suiteTokens.Store(c.Value, struct{}{})
		}
	}
	return w
}

// legacyLogin logs in on the earlier release (before) at path and returns
// the browser's jar holding its __Host-sid.
func legacyLogin(t *testing.T, before *session.Manager, path string) map[string]string {
	t.Helper()
	jar := map[string]string{}
	serveJar(before.Handler(moveApp()), jar, http.MethodPost, path, "")
	require.NotEmpty(t, jar["__Host-sid"])
	return jar
}

// TestLegacyFetchNeverSendsItsIDUnderTheNewName: a fetch is served under
// the old name and moves nothing. When it has to send the session's cookie
// anyway (a persistent cookie's Max-Age refreshed by the touch, or
// SetPersist), the ID it sends is the legacy one: under __Host-Http-sid its
// key is in the current name's domain and names no record, so the next
// request is refused and the user logged out (both cookies deleted).
func TestLegacyFetchNeverSendsItsIDUnderTheNewName(t *testing.T) {
	for name, tc := range map[string]struct {
		cookie session.CookieConfig
		path   string
	}{
		"SetPersist":         {path: "/persist"},
		"touch of a Persist": {cookie: session.CookieConfig{Persist: true}, path: "/whoami"},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			st := session.NewMemoryStore()
			cfg := session.Config{Store: st, Clock: clk.Now, Cookie: tc.cookie, Logger: testLogger()}
			m, err := session.New(cfg)
			require.NoError(t, err)
			defer m.Close()
			cfg.Cookie.Name = "__Host-sid"
			before, err := session.New(cfg)
			require.NoError(t, err)
			defer before.Close()
			jar := legacyLogin(t, before, "/login")
			legacy := jar["__Host-sid"]
			clk.Advance(10 * time.Minute) // the touch is due

			h := m.Handler(moveApp())
			method := http.MethodGet
			if tc.path == "/persist" {
				method = http.MethodPost
			}
			w := serveJar(h, jar, method, tc.path, "cors")
			require.Equal(t, http.StatusOK, w.Code)
			for _, c := range w.Result().Cookies() {
				assert.False(t, c.Name == "__Host-Http-sid" && c.Value == legacy,
					"the legacy ID is never sent under the new name: %v", w.Header()["Set-Cookie"])
			}
			// Served under the old name: its cookie made (or kept) persistent there.
			if ck := setCookies(w)["__Host-sid"]; assert.NotNil(t, ck, "%v", w.Header()["Set-Cookie"]) {
				assert.Equal(t, legacy, ck.Value)
				assert.Positive(t, ck.MaxAge)
				assert.True(t, ck.Secure && ck.HttpOnly && ck.Path == "/")
			}
			w = serveJar(h, jar, http.MethodGet, "/whoami", "")
			assert.Equal(t, "alice", w.Body.String(), "the user is still logged in; jar %v", len(jar))
			assert.NotEmpty(t, jar["__Host-Http-sid"], "the navigation moved the session")
			assert.NotEqual(t, legacy, jar["__Host-Http-sid"])
		})
	}
}

// TestLegacyMoveIsNotANewSession: moving a session off the legacy name
// renews the ID of a session the user already has; it is not a login. With
// MaxSessionsPerUser (set with the upgrade, while the earlier release had
// none, so a user may be over the cap), the move must neither evict the
// user's other sessions nor, with RefuseOverLimit, be refused: that answer
// is a 5xx on every page navigation of that device, for as long as the
// session lives.
func TestLegacyMoveIsNotANewSession(t *testing.T) {
	for name, refuse := range map[string]bool{"evict": false, "refuse": true} {
		t.Run(name, func(t *testing.T) {
			st := session.NewMemoryStore()
			before, err := session.New(session.Config{Store: st, Cookie: session.CookieConfig{Name: "__Host-sid"}, Logger: testLogger()})
			require.NoError(t, err)
			defer before.Close()
			m, err := session.New(session.Config{Store: st, MaxSessionsPerUser: 2, RefuseOverLimit: refuse, Logger: testLogger()})
			require.NoError(t, err)
			defer m.Close()
			var jars []map[string]string
			for range 3 {
				jars = append(jars, legacyLogin(t, before, "/login"))
			}
			h := m.Handler(moveApp())
			w := serveJar(h, jars[0], http.MethodGet, "/whoami", "")
			require.Equal(t, http.StatusOK, w.Code, "a move is not refused as a login past the cap")
			assert.Equal(t, "alice", w.Body.String())
			assert.NotEmpty(t, jars[0]["__Host-Http-sid"], "moved")
			for i, jar := range jars[1:] {
				w := serveJar(h, jar, http.MethodGet, "/whoami", "cors")
				assert.Equal(t, "alice", w.Body.String(), "session %d is not evicted by another device's move", i+1)
			}
			infos, err := m.Sessions(t.Context(), "alice")
			require.NoError(t, err)
			assert.Len(t, infos, 3)
		})
	}
}
