package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runTombstones checks that a store remembers why a session ended for the
// record's Meta.Linger (session.Tombstone), and then forgets it. The tests
// wait on real time, so they run in parallel.
func runTombstones(t *testing.T, newStore func(t *testing.T) session.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, session.Store)
	}{
		{"Expired", testTombExpired},
		{"ExpiredAfterUpdate", testTombExpiredAfterUpdate},
		{"Destroyed", testTombDestroyed},
		{"CreateReplacesTombstone", testTombCreate},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
	if _, ok := newStore(t).(session.UserIndex); ok {
		t.Run("Revoked", func(t *testing.T) {
			t.Parallel()
			testTombRevoked(t, newStore(t))
		})
	}
}

// requireForgotten waits until key loads as plain ErrNotFound, with no
// Tombstone, and fails if that takes longer than within.
func requireForgotten(t *testing.T, s session.Store, key string, within time.Duration, msg string) {
	t.Helper()
	c := ctx(t)
	var last error
	require.Eventually(t, func() bool {
		_, last = s.Load(c, key)
		var tomb *session.Tombstone
		return errors.Is(last, session.ErrNotFound) && !errors.As(last, &tomb)
	}, within, 20*time.Millisecond, "%s: last Load returned %v", msg, last)
}

// awaitExpiry polls key until its Load fails with something other than a
// plain ErrNotFound (a Tombstone, as the expiry tests want, or another
// error), within five seconds, and returns that error. A plain ErrNotFound
// on the way is allowed: a server whose clock runs a little ahead of the
// store's (a real Redis on another host; miniredis, whose expiries the test
// harness advances in steps) drops the record a moment before its Expires
// by the store's clock, which then reports the expiry once it passes.
func awaitExpiry(t *testing.T, s session.Store, key, msg string) error {
	t.Helper()
	c := ctx(t)
	var err error
	require.Eventually(t, func() bool {
		_, err = s.Load(c, key)
		var tomb *session.Tombstone
		return errors.As(err, &tomb) || (err != nil && !errors.Is(err, session.ErrNotFound))
	}, 5*time.Second, 20*time.Millisecond, "%s: last Load returned %v", msg, err)
	return err
}

// assertNoSessionData checks a tombstone's Meta holds no user or device.
func assertNoSessionData(t *testing.T, tomb *session.Tombstone) {
	t.Helper()
	assert.Empty(t, tomb.Meta.UserID, "a tombstone holds no user")
	assert.Empty(t, tomb.Meta.UserAgent, "a tombstone holds no device")
	assert.Empty(t, tomb.Meta.IP, "a tombstone holds no device")
	assert.Zero(t, tomb.Meta.Generation)
}

func testTombExpired(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	// A Linger of 3s: the tombstone must be seen between the expiry and
	// its end, and a loaded machine (the race detector on two cores) can
	// stall the polling below for a second.
	r := userRecord(newUser("exp"), 300*time.Millisecond, 3*time.Second, map[string][]byte{"a": []byte("1")})
	r.CreatedAt = r.CreatedAt.Add(-time.Hour)
	r.LastSeen = r.LastSeen.Add(-10 * time.Second)
	r.IdleTimeout, r.AbsoluteTimeout = 5*time.Minute, 2*time.Hour
	r.UserAgent, r.IP = "agent", "192.0.2.1"
	require.NoError(t, s.Create(c, k, r))

	err := awaitExpiry(t, s, k, "record outlived its Expires")
	tomb := requireTombstone(t, err, session.EndExpired, "an expired record within its Linger")
	assert.True(t, r.Expires.Equal(tomb.At), "At %v, want Expires %v", tomb.At, r.Expires)
	assert.True(t, r.CreatedAt.Equal(tomb.Meta.CreatedAt), "CreatedAt %v, want %v", tomb.Meta.CreatedAt, r.CreatedAt)
	assert.True(t, r.LastSeen.Equal(tomb.Meta.LastSeen), "LastSeen %v, want %v", tomb.Meta.LastSeen, r.LastSeen)
	assert.Equal(t, r.IdleTimeout, tomb.Meta.IdleTimeout)
	assert.Equal(t, r.AbsoluteTimeout, tomb.Meta.AbsoluteTimeout)
	assertNoSessionData(t, tomb)

	err = s.Update(c, k, &session.Delta{Set: map[string][]byte{"b": []byte("2")}, LastSeen: ms(0), Expires: ms(time.Minute)})
	require.ErrorIs(t, err, session.ErrNotFound, "an expired record must not be updated back to life")
	_, err = s.Load(c, k)
	requireTombstone(t, err, session.EndExpired, "after a refused update")

	// Linger is three seconds past Expires.
	requireForgotten(t, s, k, 6*time.Second, "the tombstone outlived its Linger")
}

// testTombExpiredAfterUpdate: the tombstone describes the record as it was
// when it expired, after the touches and settings that updated it.
func testTombExpiredAfterUpdate(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	r := userRecord(newUser("exp"), time.Minute, 5*time.Second, nil)
	r.IdleTimeout, r.AbsoluteTimeout = 5*time.Minute, 2*time.Hour
	require.NoError(t, s.Create(c, k, r))
	seen, exp := ms(0), ms(300*time.Millisecond)
	require.NoError(t, s.Update(c, k, &session.Delta{
		LastSeen: seen, Expires: exp,
		Timeouts: &session.Timeouts{Idle: time.Minute, Absolute: time.Hour, Linger: 5 * time.Second},
	}))
	err := awaitExpiry(t, s, k, "record outlived the Expires set by Update")
	tomb := requireTombstone(t, err, session.EndExpired)
	assert.True(t, exp.Equal(tomb.At), "At %v, want the updated Expires %v", tomb.At, exp)
	assert.True(t, seen.Equal(tomb.Meta.LastSeen), "LastSeen %v, want the updated %v", tomb.Meta.LastSeen, seen)
	assert.True(t, r.CreatedAt.Equal(tomb.Meta.CreatedAt), "CreatedAt")
	assert.Equal(t, time.Minute, tomb.Meta.IdleTimeout, "the updated IdleTimeout")
	assert.Equal(t, time.Hour, tomb.Meta.AbsoluteTimeout, "the updated AbsoluteTimeout")
	assertNoSessionData(t, tomb)
}

func testTombDestroyed(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	require.NoError(t, s.Create(c, k, userRecord(newUser("del"), time.Minute, 3*time.Second, map[string][]byte{"a": []byte("1")})))
	before := time.Now().Truncate(time.Millisecond)
	require.NoError(t, s.Delete(c, k))
	after := time.Now()
	_, err := s.Load(c, k)
	tomb := requireTombstone(t, err, session.EndDestroyed, "a deleted record within its Linger")
	assert.False(t, tomb.At.Before(before) || tomb.At.After(after), "At %v not within the Delete call [%v, %v]", tomb.At, before, after)
	assertNoSessionData(t, tomb)

	err = s.Update(c, k, &session.Delta{Set: map[string][]byte{"b": []byte("2")}})
	require.ErrorIs(t, err, session.ErrNotFound, "a deleted record must not be updated back to life")
	require.NoError(t, s.Delete(c, k), "deleting a deleted key is not an error")
	_, err = s.Load(c, k)
	requireTombstone(t, err, session.EndDestroyed, "after a refused update and a second delete")

	requireForgotten(t, s, k, 6*time.Second, "the tombstone outlived its Linger")
}

// testTombCreate: a tombstone never blocks Create under its key.
func testTombCreate(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	require.NoError(t, s.Create(c, k, userRecord("", time.Minute, 5*time.Second, nil)))
	require.NoError(t, s.Delete(c, k))
	require.NoError(t, s.Create(c, k, userRecord("", time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})))
	got, err := s.Load(c, k)
	require.NoError(t, err)
	assert.Equal(t, "1", string(got.Values["a"]))
}

func testTombRevoked(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("rev")
	k := Key()
	require.NoError(t, s.Create(c, k, userRecord(u, time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})))
	require.NoError(t, s.(session.UserIndex).RevokeUser(c, u))
	_, err := s.Load(c, k)
	tomb := requireTombstone(t, err, session.EndRevoked, "a revoked session")
	assertNoSessionData(t, tomb)
}
