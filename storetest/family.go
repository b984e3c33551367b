package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Families (session.Meta.Family, session.Rotator's Family and EndFamily):
// one session across its renewals, found and ended in one store step
// however many times it was renewed and however long ago its retired keys'
// tombstones went.

// longChain is how many renewals the long-chain case makes: more than any
// hop limit a store might be tempted by.
const longChain = 300

// runFamilies checks the family half of session.Rotator.
func runFamilies(t *testing.T, newStore func(t *testing.T) session.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, session.Store)
	}{
		{"FollowsRenewals", testFamilyFollows},
		{"UnknownIsNotFound", testFamilyUnknown},
		{"OwnFamilyFromTheStart", testFamilyHeader},
		{"UserChangeStartsANewFamily", testFamilyUserChange},
		{"LongChainEndsInOneStep", testFamilyLongChain},
		{"RetiredKeysAfterTheirTombstones", testFamilyAfterLinger},
		{"EndedFamilyStaysEnded", testFamilyStaysEnded},
		{"ConcurrentRotateAndEnd", testFamilyRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// familyOf is a record's family: its Meta.Family, or its key.
func familyOf(key string, m *session.Meta) string {
	if m.Family != "" {
		return m.Family
	}
	return key
}

// renew renews old to a new key within family and returns the new key.
func renew(t *testing.T, s session.Store, old, user, family string, linger time.Duration) string {
	t.Helper()
	nk := Key()
	meta := renewal(user, ms(-time.Second))
	meta.Family = family
	meta.Linger = linger
	_, err := rotator(s).Rotate(ctx(t), &session.Rotation{OldKey: old, NewKey: nk, Meta: meta})
	require.NoError(t, err)
	return nk
}

// requireFamilyAt requires the family's live record to be under key.
func requireFamilyAt(t *testing.T, s session.Store, family, key string, msgAndArgs ...any) {
	t.Helper()
	k, r, err := rotator(s).Family(ctx(t), family)
	require.NoError(t, err, msgAndArgs...)
	require.Equal(t, key, k, msgAndArgs...)
	require.Equal(t, family, familyOf(k, &r.Meta), msgAndArgs...)
}

// requireNoFamily requires the family to have no live record.
func requireNoFamily(t *testing.T, s session.Store, family string, msgAndArgs ...any) {
	t.Helper()
	_, _, err := rotator(s).Family(ctx(t), family)
	require.ErrorIs(t, err, session.ErrNotFound, msgAndArgs...)
}

func testFamilyFollows(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("fam")
	k0 := Key()
	require.NoError(t, s.Create(c, k0, userRecord(u, time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})))
	requireFamilyAt(t, s, k0, k0, "a record never renewed is its own family")
	k1 := renew(t, s, k0, u, k0, 5*time.Second)
	r, err := s.Load(c, k1)
	require.NoError(t, err)
	assert.Equal(t, k0, r.Family, "a renewal keeps the family")
	tomb := requireTombstone(t, loadErr(t, s, k0), session.EndRotated)
	assert.Equal(t, k0, tomb.Family, "the renewal's tombstone names the family")
	assert.Equal(t, k1, tomb.Next)
	k2 := renew(t, s, k1, u, k0, 5*time.Second)
	requireFamilyAt(t, s, k0, k2, "the family's live record is the last renewal")
	if ix, ok := s.(session.UserIndex); ok {
		list, err := ix.UserSessions(c, u)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, k0, familyOf(list[0].Key, &list[0].Meta), "UserSessions reports the family")
	}

	ended, err := rotator(s).EndFamily(c, k0)
	require.NoError(t, err)
	assert.Equal(t, k2, ended.Key)
	assert.Equal(t, u, ended.Meta.UserID)
	requireTombstone(t, loadErr(t, s, k2), session.EndDestroyed, "EndFamily ends as Delete does")
	requireNoFamily(t, s, k0)
	_, err = rotator(s).EndFamily(c, k0)
	require.ErrorIs(t, err, session.ErrNotFound, "a family ended twice")
}

// loadErr is the error of loading key.
func loadErr(t *testing.T, s session.Store, key string) error {
	t.Helper()
	_, err := s.Load(ctx(t), key)
	return err
}

func testFamilyUnknown(t *testing.T, s session.Store) {
	c := ctx(t)
	requireNoFamily(t, s, Key())
	_, err := rotator(s).EndFamily(c, Key())
	require.ErrorIs(t, err, session.ErrNotFound)
	// A family that names a record of another family is not it.
	k0, other := Key(), Key()
	r := userRecord(newUser("fam"), time.Minute, 5*time.Second, nil)
	r.Family = other
	require.NoError(t, s.Create(c, k0, r))
	requireNoFamily(t, s, k0, "a key whose record belongs to another family")
	_, err = rotator(s).EndFamily(c, k0)
	require.ErrorIs(t, err, session.ErrNotFound, "EndFamily with a key of another family's record")
	_, err = s.Load(c, k0)
	require.NoError(t, err, "the other family's record must survive")
}

// testFamilyHeader: a header session's family is not any of its keys, from
// its first record on (created by Rotate with no old key, or by Create).
func testFamilyHeader(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("hdr")
	fam := Key()
	k0 := Key()
	meta := renewal(u, ms(0))
	meta.Family = fam
	_, err := rotator(s).Rotate(c, &session.Rotation{NewKey: k0, Meta: meta})
	require.NoError(t, err)
	requireFamilyAt(t, s, fam, k0)
	k1 := renew(t, s, k0, u, fam, 5*time.Second)
	requireFamilyAt(t, s, fam, k1)
	requireNoFamily(t, s, k0, "a retired key is not a family")

	created, ck := Key(), Key()
	r := userRecord(u, time.Minute, 5*time.Second, nil)
	r.Family = created
	require.NoError(t, s.Create(c, ck, r))
	requireFamilyAt(t, s, created, ck, "Create makes its key the family's")
	ended, err := rotator(s).EndFamily(c, created)
	require.NoError(t, err)
	assert.Equal(t, ck, ended.Key)
	requireFamilyAt(t, s, fam, k1, "ending one family leaves another")
}

func testFamilyUserChange(t *testing.T, s session.Store) {
	c := ctx(t)
	k0 := Key()
	require.NoError(t, s.Create(c, k0, userRecord("", time.Minute, 5*time.Second, nil)))
	u := newUser("login")
	k1 := renew(t, s, k0, u, "", 5*time.Second) // the Manager starts a new family: NewKey's
	requireNoFamily(t, s, k0, "a login of a new user leaves the anonymous family behind")
	requireFamilyAt(t, s, k1, k1)
	_, err := rotator(s).EndFamily(c, k0)
	require.ErrorIs(t, err, session.ErrNotFound, "ending the anonymous family must not end the login")
	_, err = s.Load(c, k1)
	require.NoError(t, err)
}

func testFamilyLongChain(t *testing.T, s session.Store) {
	u := newUser("chain")
	k := Key()
	require.NoError(t, s.Create(ctx(t), k, userRecord(u, time.Minute, 5*time.Second, nil)))
	fam := k
	for range longChain {
		k = renew(t, s, k, u, fam, 5*time.Second)
	}
	requireFamilyAt(t, s, fam, k, "after %d renewals", longChain)
	ended, err := rotator(s).EndFamily(ctx(t), fam)
	require.NoError(t, err, "after %d renewals", longChain)
	assert.Equal(t, k, ended.Key)
	requireGone(t, s, k, "the last renewal of a long chain must end")
}

// testFamilyAfterLinger: the retired keys' tombstones are gone (short
// Linger), the live record was kept alive by touches: the family is still
// found and ended.
func testFamilyAfterLinger(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("linger")
	k0 := Key()
	require.NoError(t, s.Create(c, k0, userRecord(u, 3*time.Second, 200*time.Millisecond, nil)))
	k1 := renew(t, s, k0, u, k0, 200*time.Millisecond)
	k2 := renew(t, s, k1, u, k0, 200*time.Millisecond)
	for range 3 {
		time.Sleep(700 * time.Millisecond)
		require.NoError(t, s.Update(c, k2, &session.Delta{LastSeen: ms(0), Expires: ms(3 * time.Second)}))
	}
	for _, k := range []string{k0, k1} {
		err := loadErr(t, s, k)
		var tomb *session.Tombstone
		require.False(t, errors.As(err, &tomb), "the retired key's tombstone outlived its Linger: %v", err)
	}
	requireFamilyAt(t, s, k0, k2, "a family outlives its retired keys' tombstones")
	ended, err := rotator(s).EndFamily(c, k0)
	require.NoError(t, err)
	assert.Equal(t, k2, ended.Key)
	requireGone(t, s, k2)
}

func testFamilyStaysEnded(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("ended")
	k0 := Key()
	require.NoError(t, s.Create(c, k0, userRecord(u, time.Minute, 5*time.Second, nil)))
	k1 := renew(t, s, k0, u, k0, 5*time.Second)
	_, err := rotator(s).EndFamily(c, k0)
	require.NoError(t, err)
	meta := renewal(u, ms(0))
	meta.Family = k0
	nk := Key()
	_, err = rotator(s).Rotate(c, &session.Rotation{OldKey: k1, NewKey: nk, Meta: meta})
	require.ErrorIs(t, err, session.ErrNotFound, "a renewal of an ended family")
	requireGone(t, s, nk)
	requireNoFamily(t, s, k0)
}

// testFamilyRace races renewals of a family against its end: whichever
// lands first, no record of the family is live afterwards.
func testFamilyRace(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("famrace")
	var endedFirst, renewedFirst int
	for round := range raceRounds / 4 {
		k0 := Key()
		require.NoError(t, s.Create(c, k0, userRecord(u, time.Minute, 5*time.Second, nil)))
		k1 := renew(t, s, k0, u, k0, 5*time.Second)
		var wg sync.WaitGroup
		start := make(chan struct{})
		var keys []string
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			old := k1
			for range 3 {
				nk := Key()
				meta := renewal(u, ms(0))
				meta.Family = k0
				if _, err := rotator(s).Rotate(c, &session.Rotation{OldKey: old, NewKey: nk, Meta: meta}); err != nil {
					assert.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
					return
				}
				keys = append(keys, nk)
				old = nk
			}
		}()
		var endErr error
		go func() {
			defer wg.Done()
			<-start
			_, endErr = rotator(s).EndFamily(c, k0)
		}()
		close(start)
		wg.Wait()
		require.NoError(t, endErr, "round %d: the family had a live record throughout", round)
		if len(keys) == 3 {
			renewedFirst++
		} else {
			endedFirst++
		}
		for _, k := range append(keys, k1) {
			requireGone(t, s, k, "round %d: a renewal escaped the end of its family", round)
		}
		requireNoFamily(t, s, k0, "round %d", round)
	}
	t.Logf("%d rounds: all renewals first %d, end during or before %d", raceRounds/4, renewedFirst, endedFirst)
}
