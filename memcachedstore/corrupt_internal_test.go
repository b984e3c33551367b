package memcachedstore

import (
	"context"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/memcachedtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCorruptItem: an item the store cannot read (another application's
// value under the prefix, a truncated write) is a store error for Load,
// Update and Rotate, never a panic, a session, or ErrNotFound; Delete
// removes it.
func TestCorruptItem(t *testing.T) {
	srv := memcachedtest.Start(t, memcachedtest.Options{})
	c := memcache.New(srv.Addr)
	s := NewUnindexed(c, WithKeyPrefix("corrupt:"))
	ctx := context.Background()
	for _, v := range [][]byte{[]byte("not a session"), encodeRecord(nil, sampleRecord())[:20], {}} {
		key := "k"
		require.NoError(t, c.Set(&memcache.Item{Key: s.s.itemKey(key), Value: v, Expiration: 60}))
		_, err := s.Load(ctx, key)
		require.ErrorIs(t, err, session.ErrStore, "Load of %q", v)
		assert.NotErrorIs(t, err, session.ErrNotFound)
		err = s.Update(ctx, key, &session.Delta{Set: map[string][]byte{"a": []byte("1")}})
		require.ErrorIs(t, err, session.ErrStore, "Update of %q", v)
		_, err = s.Rotate(ctx, &session.Rotation{OldKey: key, NewKey: "new", Meta: session.Meta{Expires: time.Now().Add(time.Minute)}})
		require.ErrorIs(t, err, session.ErrStore, "Rotate of %q", v)
		_, err = s.Load(ctx, "new")
		require.ErrorIs(t, err, session.ErrNotFound, "a failed Rotate created its new key")
		require.NoError(t, s.Delete(ctx, key))
		_, err = s.Load(ctx, key)
		require.ErrorIs(t, err, session.ErrNotFound, "Delete must remove a corrupt item")
	}
}
