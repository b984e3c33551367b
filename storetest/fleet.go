package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// RunFleet checks the session.Fleet contract on s: Count, and RevokeAll
// ending every session created before the cutoff (logged in or anonymous,
// renewed ones too), whatever Update does afterwards, while sessions
// created after it live. Run calls it for stores that implement Fleet.
// s must hold no session, and its RevokeAll reaches every store sharing
// its data: a store whose newStore shares one database hides Fleet from
// Run and calls RunFleet on a store of an empty database of its own.
func RunFleet(t *testing.T, s session.Store) {
	f := s.(session.Fleet)
	c := ctx(t)
	now := time.Now().Truncate(time.Millisecond)
	if err := f.RevokeAll(c, time.Time{}); errors.Is(err, errors.ErrUnsupported) {
		// A wrapper whose inner store lacks Fleet says so.
		t.Logf("Fleet: not supported by this store: %v", err)
		return
	}

	n, err := f.Count(c)
	counts := !errors.Is(err, errors.ErrUnsupported)
	if counts {
		require.NoError(t, err)
		assert.Equal(t, 0, n, "a new store counts no session")
	}

	user, anon := Key(), Key()
	ur := Record(time.Hour, map[string][]byte{"a": []byte(`1`)})
	ur.UserID, ur.CreatedAt = newUser("fleet"), now.Add(-time.Minute)
	require.NoError(t, s.Create(c, user, ur))
	ar := Record(time.Hour, nil)
	ar.CreatedAt = now.Add(-time.Second)
	require.NoError(t, s.Create(c, anon, ar))
	if counts {
		n, err = f.Count(c)
		require.NoError(t, err)
		assert.Equal(t, 2, n)
	}

	require.NoError(t, f.RevokeAll(c, now))
	for _, k := range []string{user, anon} {
		_, err := s.Load(c, k)
		var tomb *session.Tombstone
		require.True(t, errors.As(err, &tomb), "a session created before the cutoff still loads: %v", err)
		assert.Equal(t, session.EndRevoked, tomb.Reason)
		assert.ErrorIs(t, err, session.ErrNotFound)
	}
	err = s.Update(c, user, &session.Delta{Set: map[string][]byte{"b": []byte(`2`)}, LastSeen: now, Expires: now.Add(time.Hour)})
	if err != nil {
		require.ErrorIs(t, err, session.ErrNotFound)
	}
	_, err = s.Load(c, user)
	require.ErrorIs(t, err, session.ErrNotFound, "an update brought a revoked session back")

	later := Key()
	lr := Record(time.Hour, nil)
	lr.CreatedAt = now.Add(time.Millisecond)
	require.NoError(t, s.Create(c, later, lr))
	_, err = s.Load(c, later)
	require.NoError(t, err, "a session created after the cutoff must live")
	require.NoError(t, f.RevokeAll(c, now.Add(-time.Hour)), "an earlier cutoff")
	_, err = s.Load(c, later)
	require.NoError(t, err, "an earlier cutoff must change nothing")
	if counts {
		n, err = f.Count(c)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, n, 1)
	}
}
