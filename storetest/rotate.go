package storetest

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notRotator is the failure of a store that lacks session.Rotator.
const notRotator = "store does not implement session.Rotator: renewal cannot be atomic " +
	"(a logout or log-out-everywhere that lands during a Login or Renew is undone, and " +
	"MaxSessionsPerUser cannot hold under concurrent logins); implement Rotate as described " +
	"by session.Rotation"

// runRotator checks the session.Rotator contract. A store without it fails.
func runRotator(t *testing.T, newStore func(t *testing.T) session.Store) {
	if _, ok := newStore(t).(session.Rotator); !ok {
		t.Fatal(notRotator)
	}
	tests := []struct {
		name string
		fn   func(*testing.T, session.Store)
	}{
		{"CarriesValuesSettingsAndGeneration", testRotateCarries},
		{"DeltaOverridesSettings", testRotateOverrides},
		{"ClearDropsOldValues", testRotateClear},
		{"EmptyOldKeyCreates", testRotateCreates},
		{"EndedOldKeyIsNotFound", testRotateEnded},
		{"OnlyOneRenewalOfAnID", testRotateOnce},
		{"DeleteBeforeRotateWins", testDeleteThenRotate},
		{"ConcurrentDelete", testRotateRaceDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
	t.Run("Family", func(t *testing.T) { runFamilies(t, newStore) })
	if _, ok := newStore(t).(session.UserIndex); !ok {
		return
	}
	tests = []struct {
		name string
		fn   func(*testing.T, session.Store)
	}{
		{"RevokeBeforeRotateWins", testRevokeThenRotate},
		{"ConcurrentRevokeUser", testRotateRaceRevoke},
		{"RevokeUserFlag", testRotateRevokeUser},
		{"CapRefuseNewConcurrent", testCapRefuse},
		{"CapEvictOldestConcurrent", testCapEvict},
		{"CapCountsOthersThanOldKey", testCapRenewAtCap},
		{"CapEvictsLeastRecentlySeen", testCapEvictsOldest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func rotator(s session.Store) session.Rotator { return s.(session.Rotator) }

// ms returns now truncated to the millisecond, the precision every store
// must keep.
func ms(d time.Duration) time.Time { return time.Now().Add(d).Truncate(time.Millisecond) }

// userRecord is a live record of user expiring in ttl that leaves a
// tombstone for linger.
func userRecord(user string, ttl, linger time.Duration, values map[string][]byte) *session.Record {
	r := Record(ttl, values)
	r.UserID = user
	r.Linger = linger
	return r
}

// renewal returns the metadata of a renewal of user's session at now,
// keeping createdAt.
func renewal(user string, createdAt time.Time) session.Meta {
	now := ms(0)
	return session.Meta{
		UserID: user, CreatedAt: createdAt, LastSeen: now, AuthenticatedAt: now,
		UserAgent: "agent-new", IP: "198.51.100.9", Expires: now.Add(time.Minute), Linger: 5 * time.Second,
		Methods: "passkey=" + strconv.FormatInt(now.UnixMilli(), 10),
	}
}

func newUser(prefix string) string { return prefix + "-" + Key()[:10] }

// requireTombstone requires err to be a Tombstone with reason.
func requireTombstone(t *testing.T, err error, reason string, msgAndArgs ...any) *session.Tombstone {
	t.Helper()
	require.ErrorIs(t, err, session.ErrNotFound, msgAndArgs...)
	var tomb *session.Tombstone
	require.True(t, errors.As(err, &tomb), "want a *session.Tombstone (%s), got %v: %s", reason, err, message(msgAndArgs))
	require.Equal(t, reason, tomb.Reason, msgAndArgs...)
	return tomb
}

// message formats testify-style message arguments.
func message(msgAndArgs []any) string {
	if len(msgAndArgs) == 0 {
		return ""
	}
	if f, ok := msgAndArgs[0].(string); ok {
		return fmt.Sprintf(f, msgAndArgs[1:]...)
	}
	return fmt.Sprint(msgAndArgs...)
}

// requireGone requires key to load as not found, whatever the tombstone.
func requireGone(t *testing.T, s session.Store, key string, msgAndArgs ...any) {
	t.Helper()
	_, err := s.Load(ctx(t), key)
	require.ErrorIs(t, err, session.ErrNotFound, msgAndArgs...)
}

// requireNeverCreated requires that nothing is stored under key: not found,
// and no tombstone of a renewal or deletion either.
func requireNeverCreated(t *testing.T, s session.Store, key string, msgAndArgs ...any) {
	t.Helper()
	_, err := s.Load(ctx(t), key)
	require.ErrorIs(t, err, session.ErrNotFound, msgAndArgs...)
	var tomb *session.Tombstone
	if errors.As(err, &tomb) {
		t.Fatalf("a failed renewal left %q under its new key: %s", tomb.Reason, message(msgAndArgs))
	}
}

func testRotateCarries(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("rot")
	if ix, ok := s.(session.UserIndex); ok {
		require.NoError(t, ix.RevokeUser(c, u)) // a generation other than 0
	}
	old := Key()
	in := userRecord(u, time.Minute, 5*time.Second, map[string][]byte{
		"keep": []byte("1"), "change": []byte("2"), "drop": []byte("3"), "bin": {0, 255},
	})
	in.CreatedAt = in.CreatedAt.Add(-time.Hour)
	in.LastSeen = in.LastSeen.Add(-10 * time.Second)
	in.IdleTimeout, in.AbsoluteTimeout, in.Persist = 5*time.Minute, 2*time.Hour, true
	in.UserAgent, in.IP = "agent-old", "192.0.2.1"
	require.NoError(t, s.Create(c, old, in))
	before, err := s.Load(c, old)
	require.NoError(t, err)

	nk := Key()
	meta := renewal(u, in.CreatedAt)
	// Settings in Meta are ignored: a renewal keeps the old record's.
	meta.IdleTimeout, meta.AbsoluteTimeout, meta.Persist, meta.Linger = time.Second, time.Second, false, 7*time.Second
	evicted, err := rotator(s).Rotate(c, &session.Rotation{
		OldKey: old, NewKey: nk, Meta: meta,
		Delta: session.Delta{Set: map[string][]byte{"change": []byte("22"), "add": []byte("4")}, Delete: []string{"drop", "never-there"}},
	})
	require.NoError(t, err)
	assert.Empty(t, evicted)

	got, err := s.Load(c, nk)
	require.NoError(t, err, "renewed record must load")
	assert.Equal(t, map[string][]byte{"keep": []byte("1"), "change": []byte("22"), "add": []byte("4"), "bin": {0, 255}}, got.Values)
	assert.Equal(t, u, got.UserID)
	assert.Equal(t, before.Generation, got.Generation, "a renewal keeps the old record's generation")
	assert.True(t, meta.CreatedAt.Equal(got.CreatedAt), "CreatedAt %v != %v", got.CreatedAt, meta.CreatedAt)
	assert.True(t, meta.LastSeen.Equal(got.LastSeen), "LastSeen %v != %v", got.LastSeen, meta.LastSeen)
	assert.True(t, meta.AuthenticatedAt.Equal(got.AuthenticatedAt), "AuthenticatedAt")
	assert.True(t, meta.Expires.Equal(got.Expires), "Expires %v != %v", got.Expires, meta.Expires)
	assert.Equal(t, "agent-new", got.UserAgent)
	assert.Equal(t, "198.51.100.9", got.IP)
	assert.Equal(t, meta.Methods, got.Methods, "Methods come from the renewal's Meta")
	assert.Equal(t, 5*time.Minute, got.IdleTimeout, "IdleTimeout comes from the old record")
	assert.Equal(t, 2*time.Hour, got.AbsoluteTimeout, "AbsoluteTimeout comes from the old record")
	assert.True(t, got.Persist, "Persist comes from the old record")
	assert.Equal(t, 5*time.Second, got.Linger, "Linger comes from the old record")

	_, err = s.Load(c, old)
	tomb := requireTombstone(t, err, session.EndRotated, "old key after renewal")
	assert.True(t, meta.LastSeen.Equal(tomb.At), "rotated tombstone At %v, want Meta.LastSeen %v", tomb.At, meta.LastSeen)
	assert.Empty(t, tomb.Meta.UserID, "a tombstone holds no user")
	assert.Equal(t, nk, tomb.Next, "a renewal tombstone names the new key (a racing logout follows it)")
	err = s.Update(c, old, &session.Delta{Set: map[string][]byte{"x": []byte("1")}})
	require.ErrorIs(t, err, session.ErrNotFound, "a renewed ID must not be updated")
	requireGone(t, s, old, "an update must not bring a renewed ID back")

	requireIndexed(t, s, u, []string{nk}, "the index holds the new key, not the old one")
}

func testRotateOverrides(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("rot")
	old := Key()
	in := userRecord(u, time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})
	in.IdleTimeout, in.AbsoluteTimeout, in.Persist = 5*time.Minute, 2*time.Hour, true
	require.NoError(t, s.Create(c, old, in))
	nk := Key()
	off := false
	_, err := rotator(s).Rotate(c, &session.Rotation{
		OldKey: old, NewKey: nk, Meta: renewal(u, in.CreatedAt),
		Delta: session.Delta{Persist: &off, Timeouts: &session.Timeouts{Idle: time.Minute, Absolute: 10 * time.Minute, Linger: 3 * time.Second}},
	})
	require.NoError(t, err)
	got, err := s.Load(c, nk)
	require.NoError(t, err)
	assert.False(t, got.Persist, "Delta.Persist overrides the old setting")
	assert.Equal(t, time.Minute, got.IdleTimeout, "Delta.Timeouts overrides the old setting")
	assert.Equal(t, 10*time.Minute, got.AbsoluteTimeout)
	assert.Equal(t, 3*time.Second, got.Linger)
	assert.Equal(t, "1", string(got.Values["a"]))
}

func testRotateClear(t *testing.T, s session.Store) {
	c := ctx(t)
	old := Key()
	in := userRecord("", time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1"), "b": []byte("2")})
	require.NoError(t, s.Create(c, old, in))
	nk := Key()
	u := newUser("clear")
	_, err := rotator(s).Rotate(c, &session.Rotation{
		OldKey: old, NewKey: nk, Meta: renewal(u, in.CreatedAt),
		Delta: session.Delta{Clear: true, Set: map[string][]byte{"c": []byte("3")}},
	})
	require.NoError(t, err)
	got, err := s.Load(c, nk)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"c": []byte("3")}, got.Values, "Clear drops the old values before Set")
	assert.Equal(t, u, got.UserID, "an anonymous session renewed at login belongs to the user")
	_, err = s.Load(c, old)
	requireTombstone(t, err, session.EndRotated)
}

func testRotateCreates(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("new")
	nk := Key()
	on := true
	meta := renewal(u, ms(0))
	_, err := rotator(s).Rotate(c, &session.Rotation{
		NewKey: nk, Meta: meta,
		Delta: session.Delta{Set: map[string][]byte{"a": []byte("1")}, Persist: &on, Timeouts: &session.Timeouts{Idle: time.Minute, Absolute: time.Hour, Linger: 2 * time.Second}},
	})
	require.NoError(t, err, "an empty OldKey creates")
	got, err := s.Load(c, nk)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1")}, got.Values)
	assert.Equal(t, u, got.UserID)
	assert.True(t, meta.Expires.Equal(got.Expires), "Expires")
	assert.True(t, got.Persist)
	assert.Equal(t, time.Minute, got.IdleTimeout)
	assert.Equal(t, time.Hour, got.AbsoluteTimeout)
	requireIndexed(t, s, u, []string{nk}, "a renewal indexes the new record under its user")
}

func testRotateEnded(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("ended")
	missing, deleted, expired, renewed := Key(), Key(), Key(), Key()
	require.NoError(t, s.Create(c, deleted, userRecord(u, time.Minute, 5*time.Second, nil)))
	require.NoError(t, s.Delete(c, deleted))
	require.NoError(t, s.Create(c, expired, userRecord(u, 300*time.Millisecond, 5*time.Second, nil)))
	require.NoError(t, s.Create(c, renewed, userRecord(u, time.Minute, 5*time.Second, nil)))
	_, err := rotator(s).Rotate(c, &session.Rotation{OldKey: renewed, NewKey: Key(), Meta: renewal(u, ms(0))})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := s.Load(c, expired)
		return errors.Is(err, session.ErrNotFound)
	}, 5*time.Second, 20*time.Millisecond)

	for name, old := range map[string]string{"missing": missing, "deleted": deleted, "expired": expired, "already renewed": renewed} {
		nk := Key()
		_, err := rotator(s).Rotate(c, &session.Rotation{
			OldKey: old, NewKey: nk, Meta: renewal(u, ms(0)),
			Delta: session.Delta{Set: map[string][]byte{"a": []byte("1")}},
		})
		require.ErrorIs(t, err, session.ErrNotFound, "renewal of a %s key", name)
		requireNeverCreated(t, s, nk, "renewal of a %s key", name)
	}
	if ix, ok := s.(session.UserIndex); ok {
		list, err := ix.UserSessions(c, u)
		require.NoError(t, err)
		assert.Len(t, list, 1, "only the one successful renewal is indexed")
	}
}

// testRotateOnce races two renewals of one ID: exactly one wins, so a
// stolen cookie and its owner can never both hold a renewed session.
func testRotateOnce(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("once")
	for round := range 20 {
		old := Key()
		require.NoError(t, s.Create(c, old, userRecord(u, time.Minute, 5*time.Second, nil)))
		keys := [2]string{Key(), Key()}
		var errs [2]error
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = rotator(s).Rotate(c, &session.Rotation{OldKey: old, NewKey: keys[i], Meta: renewal(u, ms(0))})
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i := range 2 {
			if errs[i] == nil {
				won++
				_, err := s.Load(c, keys[i])
				require.NoError(t, err, "round %d: the winner's key must load", round)
				continue
			}
			require.ErrorIs(t, errs[i], session.ErrNotFound, "round %d", round)
			requireNeverCreated(t, s, keys[i], "round %d: the loser's key", round)
		}
		require.Equal(t, 1, won, "round %d: two renewals of one ID both succeeded (or neither)", round)
	}
}

func testDeleteThenRotate(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("del")
	old := Key()
	require.NoError(t, s.Create(c, old, userRecord(u, time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})))
	require.NoError(t, s.Delete(c, old))
	nk := Key()
	_, err := rotator(s).Rotate(c, &session.Rotation{OldKey: old, NewKey: nk, Meta: renewal(u, ms(0))})
	require.ErrorIs(t, err, session.ErrNotFound, "a renewal after logout must fail")
	requireNeverCreated(t, s, nk)
	_, err = s.Load(c, old)
	requireTombstone(t, err, session.EndDestroyed, "a failed renewal must not touch the old key's tombstone")
}

// raceRounds is how many times the race tests run each race.
const raceRounds = 200

// testRotateRaceDelete races a renewal against a logout of the same ID. In
// every round exactly one of them wins: either the renewal fails with
// ErrNotFound and its new key never exists, or it succeeds and the logout,
// which then ran after it, found only a tombstone. A logout that completed
// before the renewal began always wins.
func testRotateRaceDelete(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("racedel")
	var renewed, refused int
	for round := range raceRounds {
		old := Key()
		require.NoError(t, s.Create(c, old, userRecord(u, time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})))
		nk := Key()
		var rotErr, delErr error
		var rotStart, delDone time.Time
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			rotStart = time.Now()
			_, rotErr = rotator(s).Rotate(c, &session.Rotation{OldKey: old, NewKey: nk, Meta: renewal(u, ms(0))})
		}()
		go func() {
			defer wg.Done()
			<-start
			delErr = s.Delete(c, old)
			delDone = time.Now()
		}()
		close(start)
		wg.Wait()
		require.NoError(t, delErr, "round %d", round)
		_, loadErr := s.Load(c, nk)
		_, oldErr := s.Load(c, old)
		require.ErrorIs(t, oldErr, session.ErrNotFound, "round %d: the old ID survived both a renewal and a logout", round)
		if rotErr == nil {
			renewed++
			require.NoError(t, loadErr, "round %d: a successful renewal's key must load", round)
			require.False(t, delDone.Before(rotStart), "round %d: a renewal that began after the logout returned succeeded", round)
			continue
		}
		refused++
		require.ErrorIs(t, rotErr, session.ErrNotFound, "round %d", round)
		require.ErrorIs(t, loadErr, session.ErrNotFound, "round %d: the logout won, yet the renewed key loads", round)
		var tomb *session.Tombstone
		if errors.As(oldErr, &tomb) {
			require.NotEqual(t, session.EndRotated, tomb.Reason, "round %d: a failed renewal left a renewal tombstone", round)
		}
	}
	t.Logf("%d rounds: renewal first %d, logout first %d", raceRounds, renewed, refused)
}

func testRevokeThenRotate(t *testing.T, s session.Store) {
	c := ctx(t)
	ix := s.(session.UserIndex)
	u := newUser("rev")
	old := Key()
	require.NoError(t, s.Create(c, old, userRecord(u, time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})))
	require.NoError(t, ix.RevokeUser(c, u))
	nk := Key()
	_, err := rotator(s).Rotate(c, &session.Rotation{OldKey: old, NewKey: nk, Meta: renewal(u, ms(0))})
	require.ErrorIs(t, err, session.ErrNotFound, "a renewal after log-out-everywhere must fail")
	requireGone(t, s, nk, "a renewal must not undo a revocation")
	list, err := ix.UserSessions(c, u)
	require.NoError(t, err)
	assert.Empty(t, list)
}

// testRotateRaceRevoke races a renewal against a log-out-everywhere of its
// user. Whichever lands first, the renewed key must not load afterwards: a
// renewal that completed first was indexed (and carries the old generation)
// and is revoked; one that comes after finds its old record revoked.
func testRotateRaceRevoke(t *testing.T, s session.Store) {
	c := ctx(t)
	ix := s.(session.UserIndex)
	var renewed, refused int
	for round := range raceRounds {
		u := newUser("racerev")
		old := Key()
		require.NoError(t, s.Create(c, old, userRecord(u, time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})))
		nk := Key()
		var rotErr, revErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			_, rotErr = rotator(s).Rotate(c, &session.Rotation{OldKey: old, NewKey: nk, Meta: renewal(u, ms(0))})
		}()
		go func() {
			defer wg.Done()
			<-start
			revErr = ix.RevokeUser(c, u)
		}()
		close(start)
		wg.Wait()
		require.NoError(t, revErr, "round %d", round)
		if rotErr == nil {
			renewed++
		} else {
			refused++
			require.ErrorIs(t, rotErr, session.ErrNotFound, "round %d", round)
		}
		_, err := s.Load(c, nk)
		require.ErrorIs(t, err, session.ErrNotFound, "round %d: a renewal racing log-out-everywhere survived it (renewal returned %v)", round, rotErr)
		requireGone(t, s, old, "round %d: old key", round)
		err = s.Update(c, nk, &session.Delta{Set: map[string][]byte{"b": []byte("2")}})
		require.ErrorIs(t, err, session.ErrNotFound, "round %d: the revoked renewal still updates", round)
		list, err := ix.UserSessions(c, u)
		require.NoError(t, err)
		require.Empty(t, list, "round %d: sessions listed after log-out-everywhere", round)
	}
	t.Logf("%d rounds: renewal first %d, revocation first %d", raceRounds, renewed, refused)
}

func testRotateRevokeUser(t *testing.T, s session.Store) {
	c := ctx(t)
	u, other := newUser("revflag"), newUser("bystander")
	var others []string
	for range 3 {
		k := Key()
		others = append(others, k)
		require.NoError(t, s.Create(c, k, userRecord(u, time.Minute, 5*time.Second, nil)))
	}
	mine := Key()
	require.NoError(t, s.Create(c, mine, userRecord(u, time.Minute, 5*time.Second, map[string][]byte{"a": []byte("1")})))
	bystander := Key()
	require.NoError(t, s.Create(c, bystander, userRecord(other, time.Minute, 5*time.Second, nil)))

	nk := Key()
	_, err := rotator(s).Rotate(c, &session.Rotation{OldKey: mine, NewKey: nk, Meta: renewal(u, ms(0)), RevokeUser: true})
	require.NoError(t, err)
	got, err := s.Load(c, nk)
	require.NoError(t, err, "the renewed session survives its own revocation")
	assert.Equal(t, "1", string(got.Values["a"]))
	for _, k := range others {
		requireGone(t, s, k, "RevokeUser must end the user's other sessions")
	}
	_, err = s.Load(c, bystander)
	require.NoError(t, err, "another user's session was revoked")
	list, err := s.(session.UserIndex).UserSessions(c, u)
	require.NoError(t, err)
	assert.Equal(t, []string{nk}, keysOf(list))
	require.NoError(t, s.Update(c, nk, &session.Delta{Set: map[string][]byte{"b": []byte("2")}}), "the renewed session is current")

	// With the old record gone, the revocation still happens first and the
	// renewal fails.
	gone := Key()
	require.NoError(t, s.Create(c, gone, userRecord(u, time.Minute, 5*time.Second, nil)))
	require.NoError(t, s.Delete(c, gone))
	nk2 := Key()
	_, err = rotator(s).Rotate(c, &session.Rotation{OldKey: gone, NewKey: nk2, Meta: renewal(u, ms(0)), RevokeUser: true})
	require.ErrorIs(t, err, session.ErrNotFound)
	requireNeverCreated(t, s, nk2)
	requireGone(t, s, nk, "RevokeUser revokes even when the old record is gone")
}

// concurrentLogins runs n renewals with an empty OldKey for user at once,
// under the cap, and returns each one's new key, evicted sessions and error.
func concurrentLogins(t *testing.T, s session.Store, user string, n, limit int, refuse bool) (keys []string, evicted [][]session.IndexedRecord, errs []error) {
	c := ctx(t)
	keys, evicted, errs = make([]string, n), make([][]session.IndexedRecord, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		keys[i] = Key()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			evicted[i], errs[i] = rotator(s).Rotate(c, &session.Rotation{
				NewKey: keys[i], Meta: renewal(user, ms(0)), MaxSessions: limit, RefuseNew: refuse,
			})
		}()
	}
	close(start)
	wg.Wait()
	return keys, evicted, errs
}

func loads(t *testing.T, s session.Store, key string) bool {
	_, err := s.Load(ctx(t), key)
	if err != nil {
		require.ErrorIs(t, err, session.ErrNotFound)
	}
	return err == nil
}

func testCapRefuse(t *testing.T, s session.Store) {
	const n, limit = 32, 2
	u := newUser("refuse")
	keys, evicted, errs := concurrentLogins(t, s, u, n, limit, true)
	var ok []string
	for i := range n {
		assert.Empty(t, evicted[i], "RefuseNew never evicts")
		if errs[i] == nil {
			ok = append(ok, keys[i])
			assert.True(t, loads(t, s, keys[i]), "an accepted login must load")
			continue
		}
		require.ErrorIs(t, errs[i], session.ErrTooManySessions)
		requireNeverCreated(t, s, keys[i], "a refused login")
	}
	require.Len(t, ok, limit, "%d concurrent logins under a cap of %d: %d accepted", n, limit, len(ok))
	list, err := s.(session.UserIndex).UserSessions(ctx(t), u)
	require.NoError(t, err)
	assert.ElementsMatch(t, ok, keysOf(list))
}

func testCapEvict(t *testing.T, s session.Store) {
	const n, limit = 32, 2
	u := newUser("evict")
	keys, evicted, errs := concurrentLogins(t, s, u, n, limit, false)
	out := map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i], "EvictOldest never refuses")
		for _, e := range evicted[i] {
			assert.False(t, out[e.Key], "session %s evicted twice", e.Key)
			out[e.Key] = true
		}
	}
	var live []string
	for _, k := range keys {
		if loads(t, s, k) {
			live = append(live, k)
			assert.False(t, out[k], "an evicted session still loads")
		}
	}
	require.Len(t, live, limit, "%d concurrent logins under a cap of %d: %d live", n, limit, len(live))
	assert.Len(t, out, n-limit, "Rotate must report every session it evicted")
	list, err := s.(session.UserIndex).UserSessions(ctx(t), u)
	require.NoError(t, err)
	assert.ElementsMatch(t, live, keysOf(list))
}

// testCapRenewAtCap: renewing one of the sessions at the cap replaces it; it
// neither refuses nor evicts another.
func testCapRenewAtCap(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("atcap")
	a, b := Key(), Key()
	for _, k := range []string{a, b} {
		_, err := rotator(s).Rotate(c, &session.Rotation{NewKey: k, Meta: renewal(u, ms(0)), MaxSessions: 2, RefuseNew: true})
		require.NoError(t, err)
	}
	_, err := rotator(s).Rotate(c, &session.Rotation{NewKey: Key(), Meta: renewal(u, ms(0)), MaxSessions: 2, RefuseNew: true})
	require.ErrorIs(t, err, session.ErrTooManySessions)
	a2 := Key()
	_, err = rotator(s).Rotate(c, &session.Rotation{OldKey: a, NewKey: a2, Meta: renewal(u, ms(0)), MaxSessions: 2, RefuseNew: true})
	require.NoError(t, err, "renewing a session at the cap must not count it against itself")
	b2 := Key()
	evicted, err := rotator(s).Rotate(c, &session.Rotation{OldKey: b, NewKey: b2, Meta: renewal(u, ms(0)), MaxSessions: 2})
	require.NoError(t, err)
	assert.Empty(t, evicted, "renewing a session at the cap must not evict another")
	assert.True(t, loads(t, s, a2))
	assert.True(t, loads(t, s, b2))
}

// testCapEvictsOldest: EvictOldest ends the least recently seen session.
// The sessions are created in the order of their last-seen times.
func testCapEvictsOldest(t *testing.T, s session.Store) {
	c := ctx(t)
	u := newUser("oldest")
	base := ms(0)
	keys := []string{Key(), Key(), Key()}
	for i, k := range keys {
		meta := renewal(u, base)
		meta.LastSeen = base.Add(time.Duration(i-3) * time.Second)
		evicted, err := rotator(s).Rotate(c, &session.Rotation{NewKey: k, Meta: meta, MaxSessions: 2})
		require.NoError(t, err)
		if i < 2 {
			assert.Empty(t, evicted)
			continue
		}
		require.Len(t, evicted, 1)
		assert.Equal(t, keys[0], evicted[0].Key, "the least recently seen session is evicted")
	}
	assert.False(t, loads(t, s, keys[0]))
	assert.True(t, loads(t, s, keys[1]))
	assert.True(t, loads(t, s, keys[2]))
}

// requireIndexed checks, on a store implementing UserIndex, that the user's
// index lists exactly keys.
func requireIndexed(t *testing.T, s session.Store, user string, keys []string, msg string) {
	t.Helper()
	if ix, ok := s.(session.UserIndex); ok {
		list, err := ix.UserSessions(ctx(t), user)
		require.NoError(t, err)
		assert.Equal(t, keys, keysOf(list), msg)
	}
}
