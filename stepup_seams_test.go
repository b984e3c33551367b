package session_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
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

// TestImportedLoginRevocationAndKnownAuthTime: an adopted legacy session
// that records no authentication time is still ended by "log out
// everywhere" on every carrier (the sealed cookie's login stamp falls back
// to its creation), and an importer that knows when the legacy system
// authenticated the user gets that time honoured by RequireRecentAuth.
func TestImportedLoginRevocationAndKnownAuthTime(t *testing.T) {
	carriers := map[string]func(t *testing.T) session.Config{
		"memory": func(*testing.T) session.Config { return session.Config{} },
		"redis": func(t *testing.T) session.Config {
			return session.Config{Store: session.NewRedisStore(redistest.StartServer(t).Client(t), session.WithKeyPrefix(randomPrefix()))}
		},
		"cookie": func(t *testing.T) session.Config {
			cs, err := session.NewCookieStore(bytes.Repeat([]byte{7}, 32))
			require.NoError(t, err)
			rv := session.NewMemoryStore()
			t.Cleanup(func() { _ = rv.Close() })
			return session.Config{Store: cs.WithRevocations(rv)}
		},
	}
	for name, newCfg := range carriers {
		t.Run(name, func(t *testing.T) {
			for _, authAgo := range []time.Duration{0, 10 * time.Minute} {
				cfg := newCfg(t)
				cfg.Import = func(_ context.Context, r *http.Request) (session.Imported, error) {
					if _, err := r.Cookie("legacy"); err != nil {
						return session.Imported{}, nil
					}
					imp := session.Imported{Legacy: &http.Cookie{Name: "legacy"}, UserID: "alice"}
					if authAgo > 0 {
						imp.AuthenticatedAt = time.Now().Add(-authAgo)
					}
					return imp, nil
				}
				mux := http.NewServeMux()
				mux.Handle("GET /recent", session.RequireRecentAuth(time.Hour, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.WriteString(w, session.FromContext(r.Context()).UserID())
				})))
				mux.HandleFunc("GET /who", func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.WriteString(w, session.FromContext(r.Context()).UserID())
				})
				e := newEnv(t, cfg, mux)
				// A revocation before the import does not end the adopted
				// session: its login is later.
				require.NoError(t, e.m.RevokeUser(context.Background(), "alice"))
				time.Sleep(2 * time.Millisecond) // revocations and logins compare to the millisecond
				get := func(c *http.Cookie, path ...string) (int, *http.Response, string) {
					u := e.srv.URL + "/recent"
					if len(path) > 0 {
						u = e.srv.URL + path[0]
					}
					req, err := http.NewRequest("GET", u, nil)
					require.NoError(t, err)
					req.AddCookie(c)
					res, err := e.srv.Client().Do(req)
					require.NoError(t, err)
					b, _ := io.ReadAll(res.Body)
					_ = res.Body.Close()
					return res.StatusCode, res, string(b)
				}
				code, res, _ := get(&http.Cookie{Name: "legacy", Value: "old"})
				ours := sessionCookie(res)
				require.NotNil(t, ours)
				suiteTokens.Store(ours.Value, true)
				want := http.StatusUnauthorized
				if authAgo > 0 {
					want = http.StatusOK
				}
				assert.Equal(t, want, code, "auth %v ago", authAgo)
				_, _, who := get(&http.Cookie{Name: e.cookieName(), Value: ours.Value}, "/who")
				assert.Equal(t, "alice", who, "a revocation before the import must not end the adopted session")

				time.Sleep(2 * time.Millisecond)
				require.NoError(t, e.m.RevokeUser(context.Background(), "alice"))
				_, _, who = get(&http.Cookie{Name: e.cookieName(), Value: ours.Value}, "/who")
				assert.Empty(t, who, "the adopted session must end with log out everywhere (auth %v ago)", authAgo)
			}
		})
	}
}
