package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RunUserIndex checks the session.UserIndex contract: listing, pruning,
// revocation by generation. Run calls it for stores that implement it.
func RunUserIndex(t *testing.T, newStore func(t *testing.T) session.Store) {
	t.Run("ListsOnlyTheUsersLiveSessions", func(t *testing.T) {
		s := newStore(t)
		ix := s.(session.UserIndex)
		c := ctx(t)
		alice, bob := "alice-"+Key()[:8], "bob-"+Key()[:8]
		var aliceKeys []string
		for range 3 {
			k := Key()
			aliceKeys = append(aliceKeys, k)
			r := Record(time.Minute, nil)
			r.UserID = alice
			r.UserAgent = "agent-" + k[:4]
			r.Methods = "totp=1800000000000"
			require.NoError(t, s.Create(c, k, r))
		}
		bk := Key()
		rb := Record(time.Minute, nil)
		rb.UserID = bob
		require.NoError(t, s.Create(c, bk, rb))
		anon := Key()
		require.NoError(t, s.Create(c, anon, Record(time.Minute, nil)))

		got, err := ix.UserSessions(c, alice)
		require.NoError(t, err)
		assert.ElementsMatch(t, aliceKeys, keysOf(got))
		for _, g := range got {
			assert.Equal(t, alice, g.Meta.UserID)
			assert.Equal(t, "agent-"+g.Key[:4], g.Meta.UserAgent)
			assert.Equal(t, "totp=1800000000000", g.Meta.Methods, "the devices list shows the methods")
		}

		// A deleted session is pruned from the listing.
		require.NoError(t, s.Delete(c, aliceKeys[1]))
		got, err = ix.UserSessions(c, alice)
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{aliceKeys[0], aliceKeys[2]}, keysOf(got))

		none, err := ix.UserSessions(c, "nobody-"+Key()[:8])
		require.NoError(t, err)
		assert.Empty(t, none)
	})

	t.Run("ExpiredSessionsArePruned", func(t *testing.T) {
		s := newStore(t)
		ix := s.(session.UserIndex)
		c := ctx(t)
		u := "u-" + Key()[:8]
		short, long := Key(), Key()
		r := Record(500*time.Millisecond, nil)
		r.UserID = u
		require.NoError(t, s.Create(c, short, r))
		r = Record(time.Minute, nil)
		r.UserID = u
		require.NoError(t, s.Create(c, long, r))
		require.Eventually(t, func() bool {
			got, err := ix.UserSessions(c, u)
			return err == nil && slices.Equal(keysOf(got), []string{long})
		}, 5*time.Second, 50*time.Millisecond)
	})

	t.Run("RevokeUserEndsEverySessionAtOnce", func(t *testing.T) {
		s := newStore(t)
		ix := s.(session.UserIndex)
		c := ctx(t)
		u, other := "u-"+Key()[:8], "o-"+Key()[:8]
		var keys []string
		for range 3 {
			k := Key()
			keys = append(keys, k)
			r := Record(time.Minute, map[string][]byte{"v": []byte("1")})
			r.UserID = u
			require.NoError(t, s.Create(c, k, r))
		}
		ok := Key()
		r := Record(time.Minute, nil)
		r.UserID = other
		require.NoError(t, s.Create(c, ok, r))

		require.NoError(t, ix.RevokeUser(c, u))
		for _, k := range keys {
			_, err := s.Load(c, k)
			assert.ErrorIs(t, err, session.ErrNotFound, "revoked session still loads")
			err = s.Update(c, k, &session.Delta{Set: map[string][]byte{"x": []byte("1")}})
			assert.ErrorIs(t, err, session.ErrNotFound, "revoked session still updates")
		}
		got, err := ix.UserSessions(c, u)
		require.NoError(t, err)
		assert.Empty(t, got)
		_, err = s.Load(c, ok)
		assert.NoError(t, err, "another user's session was revoked")

		// A session created after the revocation is unaffected.
		fresh := Key()
		r = Record(time.Minute, nil)
		r.UserID = u
		require.NoError(t, s.Create(c, fresh, r))
		_, err = s.Load(c, fresh)
		require.NoError(t, err)
		got, err = ix.UserSessions(c, u)
		require.NoError(t, err)
		assert.Equal(t, []string{fresh}, keysOf(got))
	})

	t.Run("StaleGenerationIsNotFound", func(t *testing.T) {
		// A record carrying an older generation than its user's (one the
		// index missed, or written by a replica that lagged) never loads.
		s := newStore(t)
		ix := s.(session.UserIndex)
		c := ctx(t)
		u := "u-" + Key()[:8]
		require.NoError(t, ix.RevokeUser(c, u)) // generation now >= 1
		k := Key()
		r := Record(time.Minute, nil)
		r.UserID = u
		require.NoError(t, s.Create(c, k, r))
		got, err := s.Load(c, k)
		require.NoError(t, err)
		require.GreaterOrEqual(t, got.Generation, uint64(1), "Create must stamp the user's generation")
		require.NoError(t, ix.RevokeUser(c, u))
		_, err = s.Load(c, k)
		require.True(t, errors.Is(err, session.ErrNotFound))
	})
}

func keysOf(rs []session.IndexedRecord) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Key)
	}
	slices.Sort(out)
	return out
}
