package memcachedstore_test

import (
	"errors"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/sessionkit/session/memcachedstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDevices is the "your devices" scenario through a real Manager and
// m.Handler on Store: list a user's devices, revoke one, keep only
// the current one (RevokeOthers), log out everywhere; another user is never
// touched.
func TestDevices(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	a := newApp(t, memcachedstore.New(client(srv), memcachedstore.WithKeyPrefix("devices:")))
	m := a.m
	ctx := t.Context()
	alice := make([]*browser, 3)
	for i := range alice {
		alice[i] = a.browser()
		alice[i].ua = "Browser/" + string(rune('A'+i))
		status, _ := alice[i].do("POST", "/login?u=alice")
		require.Equal(t, 200, status)
	}
	bob := a.browser()
	bob.ua = "Bob/1"
	status, _ := bob.do("POST", "/login?u=bob")
	require.Equal(t, 200, status)
	who := func(b *browser) string {
		status, user, _ := b.whoami()
		require.Equal(t, 200, status)
		return user
	}

	infos, err := m.Sessions(ctx, "alice")
	require.NoError(t, err)
	var uas []string
	for _, in := range infos {
		uas = append(uas, in.UserAgent)
		assert.Equal(t, "127.0.0.1", in.IP)
		assert.False(t, in.CreatedAt.IsZero())
		for _, b := range append(alice, bob) {
			assert.NotEqual(t, b.token, in.Handle, "a handle must never be a token")
		}
	}
	assert.ElementsMatch(t, []string{"Browser/A", "Browser/B", "Browser/C"}, uas)

	handleOf := func(ua string) string {
		infos, err := m.Sessions(ctx, "alice")
		require.NoError(t, err)
		for _, in := range infos {
			if in.UserAgent == ua {
				return in.Handle
			}
		}
		t.Fatalf("no session for %s", ua)
		return ""
	}
	require.NoError(t, m.Revoke(ctx, "alice", handleOf("Browser/B")))
	assert.Empty(t, who(alice[1]), "a revoked device is logged out")
	assert.Equal(t, "alice", who(alice[0]))
	assert.Equal(t, "alice", who(alice[2]))
	assert.ErrorIs(t, m.Revoke(ctx, "bob", handleOf("Browser/A")), session.ErrNotFound, "bob cannot revoke alice's session")

	before := alice[0].token
	status, _ = alice[0].do("POST", "/revoke-others")
	require.Equal(t, 200, status)
	assert.NotEqual(t, before, alice[0].token, "RevokeOthers renews the current ID")
	assert.Equal(t, "alice", who(alice[0]))
	assert.Empty(t, who(alice[2]))
	infos, err = m.Sessions(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, "Browser/A", infos[0].UserAgent)

	require.NoError(t, m.RevokeUser(ctx, "alice"))
	assert.Empty(t, who(alice[0]), "log out everywhere")
	infos, err = m.Sessions(ctx, "alice")
	require.NoError(t, err)
	assert.Empty(t, infos)

	assert.Equal(t, "bob", who(bob), "bob was untouched throughout")
	infos, err = m.Sessions(ctx, "bob")
	require.NoError(t, err)
	assert.Len(t, infos, 1)
}

// TestDevicesCap: MaxSessionsPerUser through the Manager on Store;
// UnindexedStore refuses it and has no devices.
func TestDevicesCap(t *testing.T) {
	srv := server(t, memcachedtest.Options{})
	a := newAppConfig(t, session.Config{Store: memcachedstore.New(client(srv), memcachedstore.WithKeyPrefix("cap:")), MaxSessionsPerUser: 2})
	bs := []*browser{a.browser(), a.browser(), a.browser()}
	for _, b := range bs {
		status, _ := b.do("POST", "/login?u=carol")
		require.Equal(t, 200, status)
	}
	_, u0, _ := bs[0].whoami()
	_, u1, _ := bs[1].whoami()
	_, u2, _ := bs[2].whoami()
	assert.Equal(t, []string{"", "carol", "carol"}, []string{u0, u1, u2}, "the oldest session is evicted at the cap")

	plain := memcachedstore.NewUnindexed(client(srv))
	_, err := session.New(session.Config{Store: plain, MaxSessionsPerUser: 2})
	require.ErrorIs(t, err, session.ErrInvalidConfig, "UnindexedStore keeps no index: the cap cannot hold")
	m, err := session.New(session.Config{Store: plain})
	require.NoError(t, err)
	_, err = m.Sessions(t.Context(), "carol")
	require.True(t, errors.Is(err, session.ErrNoIndex))
}
