// Package legacymovetest is the test, shared by the stores of the nested
// modules (sqlstore's drivers, memcachedstore), that a session stored by the
// earlier release under the cookie name __Host-sid moves under
// __Host-Http-sid on that store: see [Run].
package legacymovetest

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// Run checks on st: a session the earlier release (cookie __Host-sid)
// stored is served under the old name by a fetch and moved under
// __Host-Http-sid, with a new ID, by the next page navigation; the old ID is
// retired and the device listed once. With MaxSessionsPerUser set with the
// upgrade (the user over it), the move is neither refused nor evicting. On a
// store implementing [session.Fleet], the sessions RevokeAll ended then do
// not count against the cap. user must be new to st.
func Run(t *testing.T, st session.Store, user string) {
	t.Helper()
	_, before := manager(t, st, "__Host-sid", session.Config{})
	m, h := manager(t, st, "", session.Config{MaxSessionsPerUser: 1, RefuseOverLimit: true})
	laptop, phone := jar{}, jar{}
	for _, j := range []jar{laptop, phone} {
		code, body := j.do(before, http.MethodPost, "/login?u="+user, "")
		require.Equal(t, 200, code, body)
		require.NotEmpty(t, j["__Host-sid"])
	}
	legacy := laptop["__Host-sid"]

	code, body := laptop.do(h, http.MethodGet, "/whoami", "cors")
	require.Equal(t, 200, code)
	assert.Equal(t, user, body, "a fetch is served under the old name")
	assert.Empty(t, laptop["__Host-Http-sid"], "and moves nothing")

	code, body = laptop.do(h, http.MethodGet, "/whoami", "")
	require.Equal(t, 200, code, "a move is not refused as a login past the cap: %s", body)
	assert.Equal(t, user, body)
	require.NotEmpty(t, laptop["__Host-Http-sid"], "the navigation moved it")
	assert.Empty(t, laptop["__Host-sid"], "and deleted the old cookie")
	_, body = phone.do(h, http.MethodGet, "/whoami", "cors")
	assert.Equal(t, user, body, "the move evicted no other session")
	_, body = jar{"__Host-sid": legacy}.do(h, http.MethodGet, "/whoami", "cors")
	assert.Empty(t, body, "the old ID is retired")
	devices, err := m.Sessions(t.Context(), user)
	require.NoError(t, err)
	assert.Len(t, devices, 2, "one entry per device")

	if _, ok := st.(session.Fleet); !ok {
		return
	}
	require.NoError(t, m.RevokeAll(t.Context()))
	// A cutoff is kept to the millisecond and rounded up (Redis): a login
	// in the same millisecond is ended with the rest, as documented.
	time.Sleep(2 * time.Millisecond)
	again := jar{}
	code, body = again.do(h, http.MethodPost, "/login?u="+user, "")
	require.Equal(t, 200, code, "sessions RevokeAll ended do not count against the cap: %s", body)
	_, body = again.do(h, http.MethodGet, "/whoami", "cors")
	assert.Equal(t, user, body)
	devices, err = m.Sessions(t.Context(), user)
	require.NoError(t, err)
	assert.Len(t, devices, 1)
}

// jar is a browser's cookies for one origin.
type jar map[string]string

// do runs one request through h carrying the jar's cookies, as a fetch
// (mode "cors") or a page navigation (mode ""), applies its Set-Cookie
// headers and returns its status and body.
func (j jar) do(h http.Handler, method, path, mode string) (int, string) {
	r := httptest.NewRequest(method, "https://example.com"+path, nil)
	var parts []string
	for k, v := range j {
		parts = append(parts, k+"="+v)
	}
	if len(parts) > 0 {
		r.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	if mode != "" {
		r.Header.Set("Sec-Fetch-Mode", mode)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(j, c.Name)
		} else {
			j[c.Name] = c.Value
		}
	}
	return w.Code, w.Body.String()
}

// manager is a Manager on st with the default cookie (Cookie.Name
// empty) or with name (the earlier release's default, "__Host-sid").
func manager(t *testing.T, st session.Store, name string, cfg session.Config) (*session.Manager, http.Handler) {
	t.Helper()
	cfg.Store, cfg.Cookie.Name, cfg.Logger = st, name, slog.New(slog.DiscardHandler)
	m, err := session.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Login(r.Context(), r.URL.Query().Get("u")); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
		}
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, session.FromContext(r.Context()).UserID())
	})
	return m, m.Handler(mux)
}
