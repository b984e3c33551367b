package memcachedstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func userRecord(user string) *session.Record {
	now := time.Now()
	return &session.Record{
		Meta:   session.Meta{UserID: user, CreatedAt: now, LastSeen: now, Expires: now.Add(time.Minute), Linger: 5 * time.Second},
		Values: map[string][]byte{"owner": []byte(user)},
	}
}

// TestIndexedFailsClosed evicts a user's item (deletes it, as Memcached's
// LRU would) at the worst moments: every session of that user ends, a
// later login starts a new generation that no earlier session carries, and
// a revoked session never comes back, whatever is evicted.
func TestIndexedFailsClosed(t *testing.T) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	c := memcache.New(srv.Addr)
	x := New(c, WithKeyPrefix("closed:"))
	ctx := context.Background()
	evict := func(user string) {
		t.Helper()
		require.NoError(t, c.Delete(x.userKey(user)))
	}
	gone := func(key, msg string) {
		t.Helper()
		_, err := x.Load(ctx, key)
		require.ErrorIs(t, err, session.ErrNotFound, msg)
		err = x.Update(ctx, key, &session.Delta{Set: map[string][]byte{"x": []byte("1")}})
		require.ErrorIs(t, err, session.ErrNotFound, msg+" (update)")
	}

	// An evicted user item ends every session of the user.
	require.NoError(t, x.Create(ctx, "a1", userRecord("alice")))
	require.NoError(t, x.Create(ctx, "a2", userRecord("alice")))
	require.NoError(t, x.Create(ctx, "b1", userRecord("bob")))
	evict("alice")
	gone("a1", "a session whose user item was evicted")
	gone("a2", "a session whose user item was evicted")
	list, err := x.UserSessions(ctx, "alice")
	require.NoError(t, err)
	assert.Empty(t, list)
	_, err = x.Load(ctx, "b1")
	require.NoError(t, err, "another user's sessions are untouched")

	// A new login after the eviction does not bring the old sessions back.
	_, err = x.Rotate(ctx, &session.Rotation{NewKey: "a3", Meta: userRecord("alice").Meta})
	require.NoError(t, err)
	_, err = x.Load(ctx, "a3")
	require.NoError(t, err)
	gone("a1", "an old session after a new login recreated the user item")
	list, err = x.UserSessions(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "a3", list[0].Key)

	// Revoked, then the user item evicted, then a new login: the revoked
	// session stays ended.
	require.NoError(t, x.RevokeUser(ctx, "alice"))
	gone("a3", "a revoked session")
	evict("alice")
	require.NoError(t, x.Create(ctx, "a4", userRecord("alice")))
	gone("a3", "a revoked session after its user item was evicted and recreated")
	_, err = x.Load(ctx, "a4")
	require.NoError(t, err)

	// A renewal racing the eviction: the renewed session ends with the
	// user item, it is never live under a generation nobody holds.
	evict("alice")
	_, err = x.Rotate(ctx, &session.Rotation{OldKey: "a4", NewKey: "a5", Meta: userRecord("alice").Meta})
	require.ErrorIs(t, err, session.ErrNotFound, "renewing a session whose user item was evicted")
	gone("a5", "the renewal of an ended session")
}

// TestIndexedManySessions: a user with hundreds of sessions is listed
// whole (several multi-gets), and ended sessions are pruned from the
// user's item.
func TestIndexedManySessions(t *testing.T) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	x := New(memcache.New(srv.Addr), WithKeyPrefix("many:"))
	ctx := context.Background()
	const n = 300
	for i := range n {
		require.NoError(t, x.Create(ctx, fmt.Sprint("k", i), userRecord("many")))
	}
	for i := range n / 2 {
		require.NoError(t, x.Delete(ctx, fmt.Sprint("k", 2*i)))
	}
	list, err := x.UserSessions(ctx, "many")
	require.NoError(t, err)
	assert.Len(t, list, n/2)
	_, u, err := x.getUser(ctx, "test", "many")
	require.NoError(t, err)
	assert.Len(t, u.Keys, n/2, "the listing prunes ended sessions from the index")
	require.NoError(t, x.RevokeUser(ctx, "many"))
	list, err = x.UserSessions(ctx, "many")
	require.NoError(t, err)
	assert.Empty(t, list)
}

// TestSwitchStores: Store and UnindexedStore on one prefix. A session a
// Store wrote, perhaps logged out everywhere since, does not load through
// an UnindexedStore (which cannot check its generation), and an
// UnindexedStore's user session does not load through a Store (its user
// has no generation): switching logs users out, never back in.
func TestSwitchStores(t *testing.T) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	c := memcache.New(srv.Addr)
	ix, un := New(c, WithKeyPrefix("switch:")), NewUnindexed(c, WithKeyPrefix("switch:"))
	ctx := context.Background()

	require.NoError(t, ix.Create(ctx, "a", userRecord("alice")))
	require.NoError(t, ix.RevokeUser(ctx, "alice"))
	_, err := un.Load(ctx, "a")
	require.ErrorIs(t, err, session.ErrNotFound, "a revoked session came back through UnindexedStore")
	require.ErrorIs(t, un.Update(ctx, "a", &session.Delta{Set: map[string][]byte{"x": []byte("1")}}), session.ErrNotFound)
	_, err = un.Rotate(ctx, &session.Rotation{OldKey: "a", NewKey: "a2", Meta: userRecord("alice").Meta})
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = un.Load(ctx, "a2")
	require.ErrorIs(t, err, session.ErrNotFound)

	require.NoError(t, un.Create(ctx, "b", userRecord("bob")))
	_, err = un.Load(ctx, "b")
	require.NoError(t, err)
	_, err = ix.Load(ctx, "b")
	require.ErrorIs(t, err, session.ErrNotFound, "a session without a generation loaded through Store")

	require.NoError(t, un.Create(ctx, "anon", &session.Record{Meta: session.Meta{Expires: time.Now().Add(time.Minute)}}))
	_, err = ix.Load(ctx, "anon")
	require.NoError(t, err, "anonymous sessions are the same in both")
}
