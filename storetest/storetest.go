// Package storetest is the conformance suite for session.Store
// implementations. A store author runs it from a test:
//
//	func TestMyStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) session.Store { return newMyStore(t) })
//	}
//
// newStore must return an empty store (or one whose keys cannot collide with
// another call's) and register its own cleanup with t.Cleanup. Stores that
// implement session.UserIndex are also checked for the per-user index and
// revocation. The suite uses real time: expiry tests wait about a second.
//
// Every store must implement session.Rotator: Run fails without it, since
// renewal could not be atomic. The suite checks that a renewal carries the
// values and settings, races renewals against Delete and RevokeUser, holds
// the per-user cap under concurrent logins, and that an ended record leaves
// a session.Tombstone for its Meta.Linger and then none; that an Update
// writes only the metadata its Delta carries; and the family half of
// session.Rotator (Family, EndFamily): a 300-renewal chain ended in one
// step, a family still found after its retired keys' tombstones went, an
// ended family that never gets a live record again, and EndFamily racing
// Rotate. Eviction, which no suite can provoke portably, is the store's
// own tests' to show (see memcachedstore).
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Key returns a random key shaped like the ones the Manager uses.
func Key() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Record returns a live anonymous record holding values, expiring in ttl.
func Record(ttl time.Duration, values map[string][]byte) *session.Record {
	now := time.Now().Truncate(time.Millisecond)
	return &session.Record{
		Meta:   session.Meta{CreatedAt: now, LastSeen: now, Expires: now.Add(ttl)},
		Values: values,
	}
}

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) session.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, session.Store)
	}{
		{"CreateLoadRoundTrip", testRoundTrip},
		{"LoadMissing", testLoadMissing},
		{"CreateReplaces", testCreateReplaces},
		{"UpdateMerges", testUpdateMerges},
		{"UpdateClear", testUpdateClear},
		{"UpdateMissingDoesNotResurrect", testUpdateMissing},
		{"UpdateMetaMovesExpiry", testUpdateMeta},
		{"Delete", testDelete},
		{"Expiry", testExpiry},
		{"PastDeadlineNotStored", testPastDeadline},
		{"ConcurrentDistinctKeys", TestConcurrentDistinctKeys},
		{"ConcurrentSameKeyLastWriterWins", testSameKey},
		{"CancelledContext", testCancelled},
		{"ReturnedRecordIsCallers", testOwnership},
		{"MetadataNeverGoesBack", testMetaNeverGoesBack},
		{"MetadataConcurrentTouchAndSetting", testMetaConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
	t.Run("Tombstone", func(t *testing.T) { runTombstones(t, newStore) })
	if _, ok := newStore(t).(session.UserIndex); ok {
		t.Run("UserIndex", func(t *testing.T) { RunUserIndex(t, newStore) })
	}
	t.Run("Rotator", func(t *testing.T) { runRotator(t, newStore) })
	if _, ok := newStore(t).(session.Fleet); ok {
		t.Run("Fleet", func(t *testing.T) { RunFleet(t, newStore(t)) })
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func testRoundTrip(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	now := time.Now().Truncate(time.Millisecond)
	in := &session.Record{
		Meta: session.Meta{
			UserID: "user-1", CreatedAt: now.Add(-time.Minute), LastSeen: now, AuthenticatedAt: now.Add(-time.Minute),
			UserAgent: "Mozilla/5.0 (X11)", IP: "192.0.2.7", IdleTimeout: 5 * time.Minute,
			AbsoluteTimeout: time.Hour, Persist: true, Expires: now.Add(5 * time.Minute),
			Methods: "passkey=1800000000123,password=1799999999000",
		},
		Values: map[string][]byte{"a": []byte(`"x"`), "b": []byte("42"), "bin": {0, 1, 2, 255}, "empty": {}},
	}
	require.NoError(t, s.Create(c, k, in))
	out, err := s.Load(c, k)
	require.NoError(t, err)
	assert.Equal(t, in.UserID, out.UserID)
	assert.True(t, in.CreatedAt.Equal(out.CreatedAt), "CreatedAt %v != %v", in.CreatedAt, out.CreatedAt)
	assert.True(t, in.LastSeen.Equal(out.LastSeen), "LastSeen")
	assert.True(t, in.AuthenticatedAt.Equal(out.AuthenticatedAt), "AuthenticatedAt")
	assert.True(t, in.Expires.Equal(out.Expires), "Expires %v != %v", in.Expires, out.Expires)
	assert.Equal(t, in.UserAgent, out.UserAgent)
	assert.Equal(t, in.IP, out.IP)
	assert.Equal(t, in.IdleTimeout, out.IdleTimeout)
	assert.Equal(t, in.AbsoluteTimeout, out.AbsoluteTimeout)
	assert.Equal(t, in.Persist, out.Persist)
	assert.Equal(t, in.Methods, out.Methods, "Methods are kept verbatim")
	require.Len(t, out.Values, 4)
	for k, v := range in.Values {
		assert.Equal(t, string(v), string(out.Values[k]), "value %q", k)
	}
}

func testLoadMissing(t *testing.T, s session.Store) {
	_, err := s.Load(ctx(t), Key())
	require.ErrorIs(t, err, session.ErrNotFound)
}

func testCreateReplaces(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	first := Record(time.Minute, map[string][]byte{"old": []byte("1")})
	require.NoError(t, s.Create(c, k, first))
	// The same metadata with other values: a store that decides whether
	// to drop the old values by what the row's upsert changed (MySQL's
	// affected rows under CLIENT_FOUND_ROWS) keeps them.
	require.NoError(t, s.Create(c, k, &session.Record{Meta: first.Meta, Values: map[string][]byte{"new": []byte("2")}}))
	r, err := s.Load(c, k)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"new": []byte("2")}, r.Values)
	later := Record(time.Minute, map[string][]byte{"newer": []byte("3")})
	later.Meta.CreatedAt = first.Meta.CreatedAt.Add(time.Second)
	require.NoError(t, s.Create(c, k, later))
	r, err = s.Load(c, k)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"newer": []byte("3")}, r.Values)
}

func testUpdateMerges(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	require.NoError(t, s.Create(c, k, Record(time.Minute, map[string][]byte{"keep": []byte("1"), "drop": []byte("2"), "change": []byte("3")})))
	require.NoError(t, s.Update(c, k, &session.Delta{
		Set:    map[string][]byte{"change": []byte("33"), "add": []byte("4")},
		Delete: []string{"drop", "never-there"},
	}))
	r, err := s.Load(c, k)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"keep": []byte("1"), "change": []byte("33"), "add": []byte("4")}, r.Values)
}

func testUpdateClear(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	rec := Record(time.Minute, map[string][]byte{"a": []byte("1"), "b": []byte("2")})
	rec.UserID = ""
	require.NoError(t, s.Create(c, k, rec))
	require.NoError(t, s.Update(c, k, &session.Delta{Clear: true, Set: map[string][]byte{"c": []byte("3")}}))
	r, err := s.Load(c, k)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"c": []byte("3")}, r.Values)
	assert.True(t, rec.CreatedAt.Equal(r.CreatedAt), "Clear must keep the metadata")
}

func testUpdateMissing(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	err := s.Update(c, k, &session.Delta{Set: map[string][]byte{"a": []byte("1")}})
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = s.Load(c, k)
	require.ErrorIs(t, err, session.ErrNotFound, "an update of a missing record must not create it")

	require.NoError(t, s.Create(c, k, Record(time.Minute, nil)))
	require.NoError(t, s.Delete(c, k))
	err = s.Update(c, k, &session.Delta{Set: map[string][]byte{"a": []byte("1")}})
	require.ErrorIs(t, err, session.ErrNotFound)
	_, err = s.Load(c, k)
	require.ErrorIs(t, err, session.ErrNotFound, "an update after delete must not resurrect the record")
}

func testUpdateMeta(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	rec := Record(time.Minute, map[string][]byte{"a": []byte("1")})
	require.NoError(t, s.Create(c, k, rec))
	meta := rec.Meta
	meta.LastSeen = meta.LastSeen.Add(time.Second)
	meta.Expires = time.Now().Truncate(time.Millisecond).Add(700 * time.Millisecond)
	persist := true
	require.NoError(t, s.Update(c, k, &session.Delta{LastSeen: meta.LastSeen, Expires: meta.Expires, Persist: &persist}))
	r, err := s.Load(c, k)
	require.NoError(t, err)
	assert.True(t, meta.LastSeen.Equal(r.LastSeen), "LastSeen not updated")
	assert.True(t, meta.Expires.Equal(r.Expires), "Expires not updated")
	assert.True(t, r.Persist)
	assert.Equal(t, "1", string(r.Values["a"]), "a metadata update keeps the values")
	// The new, earlier expiry is the store's TTL.
	require.Eventually(t, func() bool {
		_, err := s.Load(c, k)
		return errors.Is(err, session.ErrNotFound)
	}, 5*time.Second, 50*time.Millisecond, "record outlived the Expires set by Update")
}

func testDelete(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	require.NoError(t, s.Create(c, k, Record(time.Minute, nil)))
	require.NoError(t, s.Delete(c, k))
	_, err := s.Load(c, k)
	require.ErrorIs(t, err, session.ErrNotFound)
	require.NoError(t, s.Delete(c, k), "deleting a missing key is not an error")
}

func testExpiry(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	require.NoError(t, s.Create(c, k, Record(600*time.Millisecond, map[string][]byte{"a": []byte("1")})))
	_, err := s.Load(c, k)
	require.NoError(t, err, "record gone before its deadline")
	require.Eventually(t, func() bool {
		_, err := s.Load(c, k)
		return errors.Is(err, session.ErrNotFound)
	}, 5*time.Second, 50*time.Millisecond, "record outlived its Expires")
	err = s.Update(c, k, &session.Delta{Set: map[string][]byte{"b": []byte("2")}})
	require.ErrorIs(t, err, session.ErrNotFound, "an expired record must not be updated back to life")
}

func testPastDeadline(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	require.NoError(t, s.Create(c, k, Record(time.Minute, nil)))
	require.NoError(t, s.Create(c, k, Record(-time.Second, nil)), "a past deadline deletes, it is not an error")
	_, err := s.Load(c, k)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// TestConcurrentDistinctKeys has 64 writers set 64 distinct keys of one
// record at once; all 64 must survive. Exported so store tests can run it on
// their own (e.g. against a cluster) without the whole suite.
func TestConcurrentDistinctKeys(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	require.NoError(t, s.Create(c, k, Record(time.Minute, nil)))
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- s.Update(c, k, &session.Delta{Set: map[string][]byte{fmt.Sprintf("k%02d", i): fmt.Appendf(nil, "%d", i)}})
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	r, err := s.Load(c, k)
	require.NoError(t, err)
	require.Len(t, r.Values, n, "lost updates")
	for i := range n {
		assert.Equal(t, fmt.Sprint(i), string(r.Values[fmt.Sprintf("k%02d", i)]))
	}
}

func testSameKey(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	require.NoError(t, s.Create(c, k, Record(time.Minute, nil)))
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, s.Update(c, k, &session.Delta{Set: map[string][]byte{"same": fmt.Appendf(nil, "%d", i)}}))
		}()
	}
	wg.Wait()
	r, err := s.Load(c, k)
	require.NoError(t, err)
	require.Contains(t, r.Values, "same")
	assert.Len(t, r.Values, 1)
}

func testCancelled(t *testing.T, s session.Store) {
	k := Key()
	require.NoError(t, s.Create(ctx(t), k, Record(time.Minute, nil)))
	c, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Load(c, k)
	assert.ErrorIs(t, err, context.Canceled, "Load")
	assert.ErrorIs(t, s.Create(c, Key(), Record(time.Minute, nil)), context.Canceled, "Create")
	assert.ErrorIs(t, s.Update(c, k, &session.Delta{Set: map[string][]byte{"a": []byte("1")}}), context.Canceled, "Update")
	assert.ErrorIs(t, s.Delete(c, k), context.Canceled, "Delete")
	_, err = s.Load(ctx(t), k)
	assert.NoError(t, err, "a cancelled Delete must not have deleted")
}

func testOwnership(t *testing.T, s session.Store) {
	c := ctx(t)
	k := Key()
	in := Record(time.Minute, map[string][]byte{"a": []byte("1")})
	require.NoError(t, s.Create(c, k, in))
	in.Values["a"][0] = '9'
	in.Values["b"] = []byte("2")
	out, err := s.Load(c, k)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, out.Values, "store kept a reference to the caller's record")
	out.Values["c"] = []byte("3")
	again, err := s.Load(c, k)
	require.NoError(t, err)
	assert.NotContains(t, again.Values, "c", "a loaded record must be the caller's copy")
}
