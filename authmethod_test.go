package session_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepUpApp logs in and reauthenticates with the methods named in the
// query, and has routes that require a passkey, a passkey or a TOTP code,
// or any recent authentication.
func stepUpApp(m func() *session.Manager, maxAge time.Duration) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		err := session.FromContext(r.Context()).Login(r.Context(), r.URL.Query().Get("u"), session.WithMethod(r.URL.Query()["m"]...))
		answer(w, err)
	})
	mux.HandleFunc("POST /reauth", func(w http.ResponseWriter, r *http.Request) {
		err := session.FromContext(r.Context()).Reauthenticate(r.Context(), session.WithMethod(r.URL.Query()["m"]...))
		answer(w, err)
	})
	mux.HandleFunc("POST /renew", func(w http.ResponseWriter, r *http.Request) {
		answer(w, session.FromContext(r.Context()).Renew(r.Context()))
	})
	mux.HandleFunc("GET /methods", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(session.FromContext(r.Context()).AuthMethods())
	})
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		infos, err := m().Sessions(r.Context(), session.FromContext(r.Context()).UserID())
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotImplemented)
			return
		}
		_ = json.NewEncoder(w).Encode(infos)
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	mux.Handle("GET /passkey", session.RequireRecentAuth(maxAge, nil, "passkey")(ok))
	mux.Handle("GET /strong", session.RequireRecentAuth(maxAge, nil, "passkey", "totp")(ok))
	mux.Handle("GET /recent", session.RequireRecentAuth(maxAge, nil)(ok))
	return mux
}

func answer(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, session.ErrInvalidConfig):
		http.Error(w, "invalid", http.StatusBadRequest)
	case err != nil:
		http.Error(w, err.Error(), http.StatusConflict)
	default:
		_, _ = w.Write([]byte("done"))
	}
}

// stepUpStores are the stores the step-up tests run on: each keeps the
// methods with the record (memory, Redis, a sealed cookie).
func stepUpStores(t *testing.T) map[string]func(t *testing.T) session.Store {
	return map[string]func(t *testing.T) session.Store{
		"Memory": func(*testing.T) session.Store { return nil },
		"Redis": func(t *testing.T) session.Store {
			return session.NewRedisStore(miniredisClient(t), session.WithKeyPrefix(randomPrefix()))
		},
		"RedisServer": func(t *testing.T) session.Store {
			return session.NewRedisStore(sharedServer(t)(t), session.WithKeyPrefix(randomPrefix()))
		},
		"Cookie": func(t *testing.T) session.Store {
			cs, err := session.NewCookieStore(make32(t))
			require.NoError(t, err)
			return cs
		},
	}
}

func make32(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i + 1)
	}
	return k
}

// methodsOf returns the session's methods, each with its time in unix
// milliseconds (the resolution they are kept at).
func methodsOf(t *testing.T, c *client) map[string]int64 {
	t.Helper()
	res, body := c.get("/methods")
	require.Equal(t, http.StatusOK, res.StatusCode)
	var ms map[string]time.Time
	require.NoError(t, json.Unmarshal([]byte(body), &ms))
	return millis(ms)
}

func millis(ms map[string]time.Time) map[string]int64 {
	if ms == nil {
		return nil
	}
	out := make(map[string]int64, len(ms))
	for k, v := range ms {
		out[k] = v.UnixMilli()
	}
	return out
}

func status(c *client, path string) int {
	res, _ := c.get(path)
	return res.StatusCode
}

func TestStepUpByMethod(t *testing.T) {
	const maxAge = 5 * time.Minute
	for name, newStore := range stepUpStores(t) {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			var e *env
			e = newEnv(t, session.Config{Clock: clk.Now, Store: newStore(t)}, stepUpApp(func() *session.Manager { return e.m }, maxAge))
			c := e.client()

			res, _ := c.post("/login?u=alice&m=password")
			require.Equal(t, http.StatusOK, res.StatusCode)
			loggedIn := clk.Now().UnixMilli()
			assert.Equal(t, map[string]int64{"password": loggedIn}, methodsOf(t, c))
			assert.Equal(t, http.StatusOK, status(c, "/recent"))
			assert.Equal(t, http.StatusUnauthorized, status(c, "/passkey"), "a password is not a passkey, however recent")
			assert.Equal(t, http.StatusUnauthorized, status(c, "/strong"))

			clk.Advance(time.Minute)
			res, _ = c.post("/reauth?m=passkey")
			require.Equal(t, http.StatusOK, res.StatusCode)
			stepped := clk.Now().UnixMilli()
			assert.Equal(t, map[string]int64{"password": loggedIn, "passkey": stepped}, methodsOf(t, c),
				"Reauthenticate adds the method and keeps the others")
			assert.Equal(t, http.StatusOK, status(c, "/passkey"))
			assert.Equal(t, http.StatusOK, status(c, "/strong"))

			// A renewal (new ID, same session) keeps the methods.
			old := c.token()
			res, _ = c.post("/renew")
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.NotEqual(t, old, c.token())
			assert.Equal(t, map[string]int64{"password": loggedIn, "passkey": stepped}, methodsOf(t, c))
			assert.Equal(t, http.StatusOK, status(c, "/passkey"))

			staleAndOthers(t, c, clk, maxAge, name)
		})
	}
}

// staleAndOthers continues TestStepUpByMethod past maxAge: a stale method
// is refused, a fresh other method does not satisfy a passkey-only rule, a
// bad name changes nothing, the devices list shows the methods, and a new
// login starts them afresh.
func staleAndOthers(t *testing.T, c *client, clk *fakeClock, maxAge time.Duration, name string) {
	// Stale: past maxAge the passkey no longer counts...
	clk.Advance(maxAge + time.Millisecond)
	assert.Equal(t, http.StatusUnauthorized, status(c, "/passkey"))
	assert.Equal(t, http.StatusUnauthorized, status(c, "/recent"))
	// ...and a fresh other method does not satisfy a passkey-only rule.
	res, _ := c.post("/reauth?m=totp")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, http.StatusUnauthorized, status(c, "/passkey"))
	assert.Equal(t, http.StatusOK, status(c, "/strong"), "a passkey or a TOTP code")
	assert.Equal(t, http.StatusOK, status(c, "/recent"))

	// A bad name changes nothing.
	before := methodsOf(t, c)
	res, _ = c.post("/reauth?m=Passkey")
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	assert.Equal(t, before, methodsOf(t, c))

	// The devices list shows them (stores with a user index).
	res, body := c.get("/devices")
	if name != "Cookie" {
		require.Equal(t, http.StatusOK, res.StatusCode, body)
		var infos []session.SessionInfo
		require.NoError(t, json.Unmarshal([]byte(body), &infos))
		require.Len(t, infos, 1)
		assert.Equal(t, before, millis(infos[0].Methods))
	}

	// A new login starts the record of methods afresh.
	res, _ = c.post("/login?u=alice&m=federated")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, map[string]int64{"federated": clk.Now().UnixMilli()}, methodsOf(t, c))
	res, _ = c.post("/login?u=bob")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Empty(t, methodsOf(t, c), "a login without WithMethod records none")
	assert.Equal(t, http.StatusOK, status(c, "/recent"))
}

// TestStepUpBindReauth: a request from another device (Config.Binding
// BindReauth) counts no method, as it counts no recent authentication.
func TestStepUpBindReauth(t *testing.T) {
	var e *env
	e = newEnv(t, session.Config{Binding: session.BindReauth}, stepUpApp(func() *session.Manager { return e.m }, time.Hour))
	c := e.client()
	c.ua = "agent-1"
	res, _ := c.post("/login?u=alice&m=passkey")
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, http.StatusOK, status(c, "/passkey"))
	c.ua = "agent-2"
	assert.Equal(t, http.StatusUnauthorized, status(c, "/passkey"))
	assert.Empty(t, methodsOf(t, c))
}

// TestStepUpKeepsAtMostEightMethods: the ninth method replaces the oldest.
func TestStepUpKeepsAtMostEightMethods(t *testing.T) {
	clk := newFakeClock()
	var e *env
	e = newEnv(t, session.Config{Clock: clk.Now}, stepUpApp(func() *session.Manager { return e.m }, time.Hour))
	c := e.client()
	res, _ := c.post("/login?u=alice&m=m0")
	require.Equal(t, http.StatusOK, res.StatusCode)
	for _, m := range []string{"m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"} {
		clk.Advance(time.Second)
		res, _ = c.post("/reauth?m=" + m)
		require.Equal(t, http.StatusOK, res.StatusCode)
	}
	ms := methodsOf(t, c)
	assert.Len(t, ms, 8)
	assert.NotContains(t, ms, "m0")
	assert.Contains(t, ms, "m8")
}
