package session_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// TestImportedLoginIsNotRecentAuthentication: a session adopted from the
// legacy system (Config.Import) is logged in, but nobody proved their
// identity to us: the legacy cookie may be months old, or lifted by an
// infostealer and replayed right after the switch. RequireRecentAuth must
// not let it through to a sensitive route (change the password, delete the
// account) without a Reauthenticate, with or without a method asked for.
func TestImportedLoginIsNotRecentAuthentication(t *testing.T) {
	importStores(t, func(t *testing.T, cfg session.Config) {
		legacy := &legacyStore{recs: map[string]legacyRecord{legacyID: {user: "alice"}}}
		var calls atomic.Int32
		cfg.Import = legacy.importer(&calls, nil)
		mux := http.NewServeMux()
		ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "sensitive:"+session.FromContext(r.Context()).UserID())
		})
		mux.Handle("GET /recent", session.RequireRecentAuth(time.Hour, nil)(ok))
		mux.Handle("GET /passkey", session.RequireRecentAuth(time.Hour, nil, "passkey")(ok))
		mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, session.FromContext(r.Context()).UserID())
		})
		e := newEnv(t, cfg, mux)

		req, err := http.NewRequest("GET", e.srv.URL+"/recent", nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: "legacy", Value: legacyID})
		res, err := e.srv.Client().Do(req)
		require.NoError(t, err)
		_, _ = io.ReadAll(res.Body)
		_ = res.Body.Close()
		ours := sessionCookie(res)
		require.NotNil(t, ours, "the legacy session is adopted on this request")
		suiteTokens.Store(ours.Value, true)
		assert.Equal(t, http.StatusUnauthorized, res.StatusCode,
			"an adopted legacy session did not authenticate now: it must not pass RequireRecentAuth")

		get := func(path string) (int, string) {
			req, err := http.NewRequest("GET", e.srv.URL+path, nil)
			require.NoError(t, err)
			req.AddCookie(&http.Cookie{Name: e.cookieName(), Value: ours.Value})
			res, err := e.srv.Client().Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			return res.StatusCode, string(b)
		}
		_, who := get("/whoami")
		require.Equal(t, "alice", who, "the adopted session is logged in")
		code, _ := get("/recent")
		assert.Equal(t, http.StatusUnauthorized, code, "nor on the next request")
		code, _ = get("/passkey")
		assert.Equal(t, http.StatusUnauthorized, code, "no method was recorded")
	})
}
