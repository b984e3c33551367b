package session_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/storetest"
)

// TestRedisLogoutFailsClosed pauses a real redis-server longer than the
// client's read timeout (CLIENT PAUSE), and fails every command on
// miniredis: a logout then answers with the error handler, never 200 while
// the record lives, and once the server is back the logout works.
func TestRedisLogoutFailsClosed(t *testing.T) {
	t.Run("ServerPaused", func(t *testing.T) {
		srv := redistest.StartServer(t)
		admin := srv.Client(t)
		for _, mode := range []string{"ALL", "WRITE"} {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
			t.Cleanup(func() { _ = c.Close() })
			e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))}, testApp())
			cl := e.client()
			res, _ := cl.post("/login?u=paused")
			require.Equal(t, 200, res.StatusCode)
			tok := cl.token()
			require.NoError(t, admin.Do(context.Background(), "CLIENT", "PAUSE", 1000, mode).Err())
			res, _ = cl.post("/logout")
			assert.Equal(t, 500, res.StatusCode, "CLIENT PAUSE %s: a logout that could not delete answered %d", mode, res.StatusCode)
			require.NoError(t, admin.Do(context.Background(), "CLIENT", "UNPAUSE").Err())
			assert.Contains(t, e.events.kinds(), session.EventStoreError)
			res, _ = cl.post("/logout")
			require.Equal(t, 200, res.StatusCode)
			probe := e.client()
			probe.setToken(tok)
			_, body := probe.get("/whoami")
			assert.Empty(t, body, "CLIENT PAUSE %s: the session outlived the logout", mode)
		}
	})
	t.Run("MiniredisErrors", func(t *testing.T) {
		mr := startMiniredis(t)
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		e := newEnv(t, session.Config{Store: session.NewRedisStore(c)}, testApp())
		cl := e.client()
		res, _ := cl.post("/login?u=broken")
		require.Equal(t, 200, res.StatusCode)
		mr.SetError("ERR injected")
		res, _ = cl.post("/logout")
		assert.Equal(t, 500, res.StatusCode)
		mr.SetError("")
		_, body := cl.get("/whoami")
		assert.Equal(t, "broken", body, "the failed logout must not have expired the cookie")
	})
}

// TestRedisClusterDetectedFromServer wraps the cluster client in go-redis's
// AutoPipeliner, whose type says nothing about slots: the store asks the
// server (CLUSTER INFO) and keeps every script within one slot, so the
// whole conformance suite passes through it. Treated as a single node, the
// scripts would touch keys of other slots and fail.
func TestRedisClusterDetectedFromServer(t *testing.T) {
	cl := redistest.StartCluster(t)
	ap, err := cl.Client(t).AutoPipeline()
	require.NoError(t, err)
	t.Cleanup(func() { _ = ap.Close() })
	storetest.Run(t, func(t *testing.T) session.Store {
		return session.NewRedisStore(ap, session.WithKeyPrefix(randomPrefix()))
	})
	t.Run("ExplicitOptionWins", func(t *testing.T) {
		s := session.NewRedisStore(ap, session.WithKeyPrefix(randomPrefix()), session.WithCluster(true))
		storetest.TestConcurrentDistinctKeys(t, s)
	})
}

// TestRedisLoginIsOneRoundTrip counts round trips on a single server: a
// login of a new visitor is one (the renewal script), of a visitor with a
// session one more (its read).
func TestRedisLoginIsOneRoundTrip(t *testing.T) {
	for name, newClient := range map[string]func(t *testing.T) redis.UniversalClient{"Miniredis": miniredisClient, "Server": sharedServer(t)} {
		t.Run(name, func(t *testing.T) {
			c := newClient(t)
			hook := &countHook{}
			c.AddHook(hook)
			e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))}, testApp())
			warm := e.client() // the server learns the scripts
			warm.post("/login?u=warm")
			warm.post("/logout")
			cl := e.client()
			hook.n.Store(0)
			res, _ := cl.post("/login?u=one")
			require.Equal(t, 200, res.StatusCode)
			assert.Equal(t, int64(1), hook.n.Load(), "login of a new visitor")
			res, _ = cl.post("/set?k=a&v=1")
			require.Equal(t, 200, res.StatusCode)
			hook.n.Store(0)
			res, _ = cl.post("/login?u=one")
			require.Equal(t, 200, res.StatusCode)
			assert.Equal(t, int64(2), hook.n.Load(), "read + login")
		})
	}
}
