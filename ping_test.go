package session_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Manager.Ping follows Redis: an error wrapping ErrStore while the server
// is stopped, nil once it is back; in cookie mode it pings the revocation
// list, and a cookie store without one is always ready.
func TestPingFollowsRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	store := session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))
	m, err := session.New(session.Config{Store: store, Logger: testLogger()})
	require.NoError(t, err)
	cookie, err := session.New(session.Config{Logger: testLogger(),
		Store: newCookieStore(t, newKey(t)).WithRevocations(store)})
	require.NoError(t, err)
	sealed, err := session.SealValues(store, newKey(t))
	require.NoError(t, err)
	wrapped, err := session.New(session.Config{Store: sealed, Logger: testLogger()})
	require.NoError(t, err)
	all := []*session.Manager{m, cookie, wrapped}
	for _, mgr := range all {
		require.NoError(t, mgr.Ping(ctx))
	}
	srv.Kill()
	for _, mgr := range all { // a wrapper is looked through to its store's Ping
		err := mgr.Ping(ctx)
		require.Error(t, err)
		assert.ErrorIs(t, err, session.ErrStore)
	}
	srv.Restart()
	for _, mgr := range all {
		assert.NoError(t, mgr.Ping(ctx))
	}
	plain, err := session.New(session.Config{Logger: testLogger(), Store: newCookieStore(t, newKey(t))})
	require.NoError(t, err)
	assert.NoError(t, plain.Ping(ctx), "a cookie store without revocations needs no server")
}

// A memory store is ready until it is closed, also behind a wrapper.
func TestPingMemoryStore(t *testing.T) {
	mem := session.NewMemoryStore()
	sealed, err := session.SealValues(mem, newKey(t))
	require.NoError(t, err)
	m, err := session.New(session.Config{Store: sealed, Logger: testLogger()})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, m.Ping(ctx))
	require.NoError(t, mem.Close())
	err = m.Ping(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, session.ErrStore)
}
