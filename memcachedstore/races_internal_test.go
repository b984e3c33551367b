package memcachedstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// once returns a hook that runs f the first time point is reached, on the
// same goroutine, so the write f does lands between the store's read and
// its cas, every time.
func once(point string, f func()) func(string) {
	var o sync.Once
	return func(p string) {
		if p == point {
			o.Do(f)
		}
	}
}

// pair returns two stores on one server and prefix: one to hook, one for the
// write that lands in between (same kind: indexed or not).
func pair(t *testing.T, indexed bool) (hooked, other session.Store, hookedStore *base) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	c := memcache.New(srv.Addr)
	if indexed {
		a, b := New(c, WithKeyPrefix("race:")), New(c, WithKeyPrefix("race:"))
		return a, b, a.s
	}
	a, b := NewUnindexed(c, WithKeyPrefix("race:")), NewUnindexed(c, WithKeyPrefix("race:"))
	return a, b, a.s
}

func bothStores(t *testing.T, f func(t *testing.T, indexed bool)) {
	t.Run("Store", func(t *testing.T) { f(t, true) })
	t.Run("UnindexedStore", func(t *testing.T) { f(t, false) })
}

// TestRaceUpdateDelete: a logout lands between an update's read and its
// cas. The cas fails, the update reports ErrNotFound, and the session stays
// logged out (scs and express-session write it back).
func TestRaceUpdateDelete(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, other, hs := pair(t, indexed)
		ctx := context.Background()
		require.NoError(t, s.Create(ctx, "k", userRecord("alice")))
		hs.hook = once("update", func() { require.NoError(t, other.Delete(ctx, "k")) })
		err := s.Update(ctx, "k", &session.Delta{Set: map[string][]byte{"cart": []byte("1")}})
		require.ErrorIs(t, err, session.ErrNotFound)
		_, err = s.Load(ctx, "k")
		var tomb *session.Tombstone
		require.ErrorAs(t, err, &tomb, "the logout's tombstone stays")
		assert.Equal(t, session.EndDestroyed, tomb.Reason)
	})
}

// TestRaceUpdateUpdate: another request's write lands between an update's
// read and its cas: the update retries, and both writes survive.
func TestRaceUpdateUpdate(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, other, hs := pair(t, indexed)
		ctx := context.Background()
		require.NoError(t, s.Create(ctx, "k", userRecord("alice")))
		hs.hook = once("update", func() {
			require.NoError(t, other.Update(ctx, "k", &session.Delta{Set: map[string][]byte{"theirs": []byte("1")}}))
		})
		require.NoError(t, s.Update(ctx, "k", &session.Delta{Set: map[string][]byte{"mine": []byte("2")}}))
		r, err := s.Load(ctx, "k")
		require.NoError(t, err)
		assert.Equal(t, "1", string(r.Values["theirs"]), "the other request's write was lost")
		assert.Equal(t, "2", string(r.Values["mine"]))
	})
}

// TestRaceRotateUpdate: an update of the old record lands between a
// renewal's read and its cas: the renewed record carries it.
func TestRaceRotateUpdate(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, other, hs := pair(t, indexed)
		ctx := context.Background()
		require.NoError(t, s.Create(ctx, "old", userRecord("alice")))
		hs.hook = once("rotate:old", func() {
			require.NoError(t, other.Update(ctx, "old", &session.Delta{Set: map[string][]byte{"late": []byte("1")}}))
		})
		_, err := s.(session.Rotator).Rotate(ctx, &session.Rotation{OldKey: "old", NewKey: "new", Meta: userRecord("alice").Meta})
		require.NoError(t, err)
		r, err := s.Load(ctx, "new")
		require.NoError(t, err)
		assert.Equal(t, "1", string(r.Values["late"]), "an update that landed before the renewal was lost")
		_, err = s.Load(ctx, "old")
		var tomb *session.Tombstone
		require.ErrorAs(t, err, &tomb)
		assert.Equal(t, session.EndRotated, tomb.Reason)
	})
}

// TestRaceRotateDelete: a logout lands between a renewal's read and its
// cas: the renewal fails, its new key was never live, and the index does
// not list it.
func TestRaceRotateDelete(t *testing.T) {
	bothStores(t, func(t *testing.T, indexed bool) {
		s, other, hs := pair(t, indexed)
		ctx := context.Background()
		require.NoError(t, s.Create(ctx, "old", userRecord("alice")))
		hs.hook = once("rotate:old", func() { require.NoError(t, other.Delete(ctx, "old")) })
		_, err := s.(session.Rotator).Rotate(ctx, &session.Rotation{OldKey: "old", NewKey: "new", Meta: userRecord("alice").Meta})
		require.ErrorIs(t, err, session.ErrNotFound)
		_, err = s.Load(ctx, "new")
		require.ErrorIs(t, err, session.ErrNotFound)
		var tomb *session.Tombstone
		require.NotErrorAs(t, err, &tomb, "the failed renewal left something under its new key")
		if ix, ok := s.(session.UserIndex); ok {
			list, err := ix.UserSessions(ctx, "alice")
			require.NoError(t, err)
			assert.Empty(t, list)
			_, u, err := s.(*Store).getUser(ctx, "test", "alice")
			require.NoError(t, err)
			assert.NotContains(t, u.Keys, "new", "the failed renewal stayed in the index")
		}
	})
}

// TestRaceRotateRevoke: log-out-everywhere lands between a renewal's read
// and its write of the user's item: the renewal starts again, finds the old
// session revoked and fails; nothing it wrote is live.
func TestRaceRotateRevoke(t *testing.T) {
	s, other, hs := pair(t, true)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, "old", userRecord("alice")))
	hs.hook = once("rotate:user", func() { require.NoError(t, other.(session.UserIndex).RevokeUser(ctx, "alice")) })
	_, err := s.(session.Rotator).Rotate(ctx, &session.Rotation{OldKey: "old", NewKey: "new", Meta: userRecord("alice").Meta})
	require.ErrorIs(t, err, session.ErrNotFound)
	for _, k := range []string{"old", "new"} {
		_, err = s.Load(ctx, k)
		require.ErrorIs(t, err, session.ErrNotFound, k)
	}
	list, err := s.(session.UserIndex).UserSessions(ctx, "alice")
	require.NoError(t, err)
	assert.Empty(t, list)

	// Landing after the user's item was written, the revocation ends the
	// renewed session even though the renewal itself succeeded.
	require.NoError(t, s.Create(ctx, "old2", userRecord("alice")))
	hs.hook = once("rotate:old", func() { require.NoError(t, other.(session.UserIndex).RevokeUser(ctx, "alice")) })
	_, err = s.(session.Rotator).Rotate(ctx, &session.Rotation{OldKey: "old2", NewKey: "new2", Meta: userRecord("alice").Meta})
	require.NoError(t, err)
	_, err = s.Load(ctx, "new2")
	require.ErrorIs(t, err, session.ErrNotFound, "a renewal that a revocation overtook is live")
}

// TestRaceUpdateRevoke: log-out-everywhere lands between an update's check
// of the generation and its cas. The update is applied (it was ordered
// before the revocation), but the session stays ended.
func TestRaceUpdateRevoke(t *testing.T) {
	s, other, hs := pair(t, true)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, "k", userRecord("alice")))
	hs.hook = once("update", func() { require.NoError(t, other.(session.UserIndex).RevokeUser(ctx, "alice")) })
	require.NoError(t, s.Update(ctx, "k", &session.Delta{Set: map[string][]byte{"a": []byte("1")}, Expires: time.Now().Add(time.Hour)}))
	_, err := s.Load(ctx, "k")
	require.ErrorIs(t, err, session.ErrNotFound, "a write racing log-out-everywhere brought the session back")
	err = s.Update(ctx, "k", &session.Delta{Set: map[string][]byte{"b": []byte("1")}})
	require.ErrorIs(t, err, session.ErrNotFound)
}

// TestRaceRevokeOthersRevoke: another log-out-everywhere lands after a
// RevokeOthers renewal revoked the user but before it wrote the user's
// item. That later revocation ends the renewed session too.
func TestRaceRevokeOthersRevoke(t *testing.T) {
	s, other, hs := pair(t, true)
	ctx := context.Background()
	require.NoError(t, s.Create(ctx, "old", userRecord("alice")))
	hs.hook = once("rotate:user", func() { require.NoError(t, other.(session.UserIndex).RevokeUser(ctx, "alice")) })
	_, err := s.(session.Rotator).Rotate(ctx, &session.Rotation{OldKey: "old", NewKey: "new", Meta: userRecord("alice").Meta, RevokeUser: true})
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = s.Load(ctx, "new")
	require.ErrorIs(t, err, session.ErrNotFound, "a renewal overtaken by a later log-out-everywhere is live")
}
