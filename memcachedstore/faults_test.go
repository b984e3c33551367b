package memcachedstore_test

import (
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerKilled: with memcached killed, a request that reads its
// session, one that writes it (killed mid-request, after the handler's
// Set) and a logout all answer 5xx, never a 2xx: an unreachable server is
// not a logout, and no write is silently lost. A server that comes back
// empty (memcached keeps nothing on disk) is a logged-out user.
func TestServerKilled(t *testing.T) {
	t.Run("Store", func(t *testing.T) {
		srv := server(t, memcachedtest.Options{})
		testServerKilled(t, srv, newApp(t, newStore(t, srv)))
	})
	t.Run("UnindexedStore", func(t *testing.T) {
		srv := server(t, memcachedtest.Options{})
		testServerKilled(t, srv, newApp(t, newUnindexed(t, srv)))
	})
}

func testServerKilled(t *testing.T, srv *memcachedtest.Server, a *app) {
	b := a.browser()
	status, _ := b.do("POST", "/login?u=alice")
	require.Equal(t, 200, status)
	status, user, _ := b.whoami()
	require.Equal(t, 200, status)
	require.Equal(t, "alice", user)

	a.duringNextSet(srv.Kill)
	status, body := b.do("POST", "/set?v=1")
	assert.GreaterOrEqual(t, status, 500, "a write whose commit failed answered %d %q", status, body)

	status, user, _ = b.whoami()
	assert.GreaterOrEqual(t, status, 500, "a read with the server down answered %d (user %q): a logout, not an error", status, user)
	status, _ = b.do("POST", "/logout")
	assert.GreaterOrEqual(t, status, 500, "a logout with the server down answered %d", status)
	status, _ = a.browser().do("POST", "/login?u=bob")
	assert.GreaterOrEqual(t, status, 500, "a login with the server down answered %d", status)
	if _, ok := a.m.Store().(session.UserIndex); ok {
		assert.ErrorIs(t, a.m.RevokeUser(t.Context(), "alice"), session.ErrStore, "log out everywhere with the server down")
		_, err := a.m.Sessions(t.Context(), "alice")
		assert.ErrorIs(t, err, session.ErrStore)
	}

	srv.Restart()
	status, user, _ = b.whoami()
	require.Equal(t, 200, status, "the server is back")
	assert.Empty(t, user, "the restarted server lost the session: the user is logged out")
	status, _ = b.do("POST", "/login?u=alice")
	require.Equal(t, 200, status)
	status, user, _ = b.whoami()
	require.Equal(t, 200, status)
	require.Equal(t, "alice", user)
}
