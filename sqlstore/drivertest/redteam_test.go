package drivertest

// Red-team tests: each subtest attacks one promise of the SQL store on the
// real servers (PostgreSQL, MariaDB) and on a SQLite file, racing the
// calls for many rounds, killing connections mid-call and feeding odd
// bytes. Run: go test -race -run TestRedTeam -count 1 .

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redRounds is how many rounds each race runs.
const redRounds = 25

// redRecord is a live record of user holding values, seen now.
func redRecord(user string, values map[string][]byte) *session.Record {
	r := storetest.Record(time.Minute, values)
	r.UserID = user
	r.Linger = time.Minute
	return r
}

// renewMeta is the metadata of a renewal of r, seen a little later.
func renewMeta(r *session.Record) session.Meta {
	m := r.Meta
	m.LastSeen = m.LastSeen.Add(time.Millisecond)
	return m
}

// together runs fns at once and waits for all of them.
func together(fns ...func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, f := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f()
		}()
	}
	close(start)
	wg.Wait()
}

// loadValues returns the values under key, or nil and the error.
func loadValues(ctx context.Context, st *sqlstore.Store, key string) (map[string][]byte, error) {
	r, err := st.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	return r.Values, nil
}

// valueRows counts the session_values rows of key, whatever their record.
func valueRows(t *testing.T, db *sql.DB, d sqlstore.Dialect, key string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(rebind(d, `SELECT COUNT(*) FROM session_values WHERE skey = ?`), key).Scan(&n))
	return n
}

func set(kv ...string) map[string][]byte {
	m := map[string][]byte{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = []byte(kv[i+1])
	}
	return m
}

// TestRedTeam attacks the store's promises on every backend with a
// second connection (PostgreSQL, MariaDB, a SQLite file).
func TestRedTeam(t *testing.T) {
	forSome(t, files, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st := newStore(t, db, b.d)
		t.Run("DistinctNamesAllSurvive", func(t *testing.T) { redDistinctNames(t, st) })
		t.Run("ClearRacingSet", func(t *testing.T) { redClearRacingSet(t, st) })
		t.Run("UpdateRacingRotate", func(t *testing.T) { redUpdateRacingRotate(t, st) })
		t.Run("DeleteRacingWrites", func(t *testing.T) { redDeleteRacingWrites(t, b, db, st) })
		t.Run("DeleteRacingRevoke", func(t *testing.T) {
			redDeleteRacingRevoke(t, st)
		})
		t.Run("ManyNames", func(t *testing.T) { redManyNames(t, st) })
		t.Run("OversizedDevice", func(t *testing.T) { redOversizedDevice(t, b, st) })
		t.Run("RevokeRacingRenewal", func(t *testing.T) { redRevokeRacing(t, b, db, st, false, false) })
		t.Run("RevokeRacingWrites", func(t *testing.T) {
			redRevokeRacing(t, b, db, st, true, false)
		})
		t.Run("RevokedKeepsNoValues", func(t *testing.T) {
			redRevokeRacing(t, b, db, st, true, true)
		})
		t.Run("LogoutRacingRenewAndWrite", func(t *testing.T) { redLogoutThroughManager(t, b, st) })
		t.Run("RotateTwice", func(t *testing.T) { redRotateTwice(t, st) })
		t.Run("RevokeOthersTwice", func(t *testing.T) { redRevokeOthersTwice(t, st) })
		t.Run("CapRenewalsNeverEvict", func(t *testing.T) { redCapRenewals(t, st) })
		t.Run("CapEvict", func(t *testing.T) { redCap(t, st, false) })
		t.Run("CapRefuse", func(t *testing.T) { redCap(t, st, true) })
		t.Run("HostileNames", func(t *testing.T) { redHostileNames(t, b, st) })
		t.Run("HostileDevice", func(t *testing.T) { redHostileDevice(t, b, st) })
		t.Run("EvictedAgentOutsideLatin1", func(t *testing.T) {
			redEvictedAgentUnicode(t, st)
		})
		t.Run("HostileUserIDs", func(t *testing.T) { redHostileUsers(t, st) })
		if srv != nil && (srv.pg != nil || srv.maria != nil) {
			t.Run("KilledRotate", func(t *testing.T) { redKilledRotate(t, b, db, srv, st) })
			t.Run("KilledCreate", func(t *testing.T) { redKilledCreate(t, b, db, srv, st) })
			t.Run("KilledDelete", func(t *testing.T) { redKilledDelete(t, b, db, srv, st) })
		}
	})
}

// redDistinctNames: 8 writers each set their own name on one session at
// once, with an untouched name beside them; every name survives.
func redDistinctNames(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	const writers = 8
	for round := range redRounds {
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, redRecord("", set("keep", "me"))))
		fns := make([]func(), writers)
		errs := make([]error, writers)
		for i := range writers {
			fns[i] = func() {
				errs[i] = st.Update(ctx, k, &session.Delta{
					Set:      set(fmt.Sprintf("w%d", i), fmt.Sprintf("v%d-%d", i, round)),
					LastSeen: time.Now(),
				})
			}
		}
		together(fns...)
		want := set("keep", "me")
		for i := range writers {
			require.NoError(t, errs[i], "round %d writer %d", round, i)
			want[fmt.Sprintf("w%d", i)] = []byte(fmt.Sprintf("v%d-%d", i, round))
		}
		got, err := loadValues(ctx, st, k)
		require.NoError(t, err)
		require.Equal(t, want, got, "round %d: a concurrent write of a distinct name was lost", round)
	}
}

// redClearRacingSet: a Clear racing a Set ends in one of the two serial
// outcomes, never with the cleared value back or the set value half there.
func redClearRacingSet(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range redRounds {
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, redRecord("", set("old", "1", "b", "0"))))
		var e1, e2, e3 error
		together(
			func() { e1 = st.Update(ctx, k, &session.Delta{Clear: true, Set: set("c", "clear")}) },
			func() { e2 = st.Update(ctx, k, &session.Delta{Set: set("b", "2", "s", "set")}) },
			func() { e3 = st.Update(ctx, k, &session.Delta{Delete: []string{"b"}}) },
		)
		require.NoError(t, e1)
		require.NoError(t, e2)
		require.NoError(t, e3)
		got, err := loadValues(ctx, st, k)
		require.NoError(t, err)
		// The six serial orders of clear (C), set (S) and delete (D).
		outcomes := []map[string][]byte{
			set("c", "clear", "b", "2", "s", "set"), // C D S, D C S
			set("c", "clear", "s", "set"),           // C S D
			set("c", "clear"),                       // S C D, S D C, D S C
		}
		assert.Contains(t, outcomes, got, "round %d: %q is no serial outcome", round, got)
	}
}

// redUpdateRacingRotate: a write racing a renewal either lands before it
// (and moves to the new key) or fails with ErrNotFound: a write that
// reported success is never lost.
func redUpdateRacingRotate(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range redRounds {
		r := redRecord(fmt.Sprintf("urr-%d", round), set("a", "1"))
		k, k2 := storetest.Key(), storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		var ue, re error
		together(
			func() { ue = st.Update(ctx, k, &session.Delta{Set: set("w", "racing"), Delete: []string{"a"}}) },
			func() {
				_, re = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r),
					Delta: session.Delta{Set: set("r", "renew")}})
			},
		)
		require.NoError(t, re, "round %d", round)
		got, err := loadValues(ctx, st, k2)
		require.NoError(t, err)
		if ue == nil {
			assert.Equal(t, set("w", "racing", "r", "renew"), got, "round %d: a successful write was lost by the renewal", round)
		} else {
			require.ErrorIs(t, ue, session.ErrNotFound, "round %d", round)
			assert.Equal(t, set("a", "1", "r", "renew"), got, "round %d: a failed write left a trace", round)
		}
		_, err = st.Load(ctx, k)
		var ts *session.Tombstone
		require.ErrorAs(t, err, &ts, "round %d", round)
		assert.Equal(t, session.EndRotated, ts.Reason)
		assert.Equal(t, k2, ts.Next)
	}
}

// redDeleteRacingWrites: a logout racing a write and a renewal of the same
// key. After the logout, the key never loads; the renewal either lost
// (ErrNotFound, its key never loads) or won (the old key is its tombstone
// and the new key holds no write that failed); the tombstone keeps no
// value rows; an Update after the Delete is ErrNotFound.
func redDeleteRacingWrites(t *testing.T, b backend, db *sql.DB, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range redRounds {
		r := redRecord(fmt.Sprintf("drw-%d", round), set("a", "1"))
		k, k2 := storetest.Key(), storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		var de, ue, re error
		together(
			func() { de = st.Delete(ctx, k) },
			func() { ue = st.Update(ctx, k, &session.Delta{Set: set("w", "racing")}) },
			func() { _, re = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r)}) },
		)
		require.NoError(t, de, "round %d", round)
		if ue != nil {
			require.ErrorIs(t, ue, session.ErrNotFound, "round %d", round)
		}
		_, err := st.Load(ctx, k)
		require.ErrorIs(t, err, session.ErrNotFound, "round %d: the deleted key loads", round)
		assert.Zero(t, valueRows(t, db, b.d, k), "round %d: the ended key keeps value rows", round)
		got, err := loadValues(ctx, st, k2)
		if re != nil {
			require.ErrorIs(t, re, session.ErrNotFound, "round %d", round)
			require.ErrorIs(t, err, session.ErrNotFound, "round %d: the losing renewal's key loads", round)
			assert.Zero(t, valueRows(t, db, b.d, k2), "round %d", round)
		} else {
			// The renewal came first: the Delete found its tombstone.
			require.NoError(t, err, "round %d", round)
			if ue != nil {
				assert.Equal(t, set("a", "1"), got, "round %d", round)
			} else {
				assert.Contains(t, []map[string][]byte{set("a", "1"), set("a", "1", "w", "racing")}, got, "round %d", round)
			}
			var ts *session.Tombstone
			_, err = st.Load(ctx, k)
			require.ErrorAs(t, err, &ts)
			assert.Equal(t, session.EndRotated, ts.Reason)
		}
		err = st.Update(ctx, k, &session.Delta{Set: set("late", "x")})
		require.ErrorIs(t, err, session.ErrNotFound, "round %d: Update after Delete", round)
		assert.Zero(t, valueRows(t, db, b.d, k), "round %d: Update after Delete wrote", round)
	}
}

// redRevokeRacing: RevokeUser racing a renewal (and a write): once it
// returned, neither the old key nor the key it was renewed to loads, the
// user has no session, and a later write is ErrNotFound; with noValues,
// no value row is left under the ended keys.
func redRevokeRacing(t *testing.T, b backend, db *sql.DB, st *sqlstore.Store, write, noValues bool) {
	ctx := context.Background()
	for round := range redRounds {
		user := fmt.Sprintf("rrw-%d", round)
		r := redRecord(user, set("a", "1"))
		k, k2 := storetest.Key(), storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		var ve, ue, re error
		together(
			func() { ve = st.RevokeUser(ctx, user) },
			func() {
				if write {
					ue = st.Update(ctx, k, &session.Delta{Set: set("w", "racing")})
				}
			},
			func() { _, re = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r)}) },
		)
		require.NoError(t, ve, "round %d", round)
		if ue != nil {
			require.ErrorIs(t, ue, session.ErrNotFound, "round %d", round)
		}
		if re != nil {
			require.ErrorIs(t, re, session.ErrNotFound, "round %d", round)
		}
		for _, key := range []string{k, k2} {
			_, err := st.Load(ctx, key)
			require.ErrorIs(t, err, session.ErrNotFound, "round %d: a revoked session loads (renewal ok=%v)", round, re == nil)
			require.ErrorIs(t, st.Update(ctx, key, &session.Delta{Set: set("late", "x")}), session.ErrNotFound, "round %d", round)
		}
		live, err := st.UserSessions(ctx, user)
		require.NoError(t, err)
		assert.Empty(t, live, "round %d", round)
		if noValues {
			require.Zero(t, valueRows(t, db, b.d, k)+valueRows(t, db, b.d, k2), "round %d: a revoked session keeps value rows", round)
		}
	}
}

// redDeleteRacingRevoke: a logout, a renewal, a revocation of the user and
// a log-out-everywhere renewal (RevokeUser) of another of its sessions, at
// once: afterwards neither the logged-out key nor the key it was renewed
// to loads; the user keeps at most the log-out-everywhere session.
func redDeleteRacingRevoke(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range redRounds {
		user := fmt.Sprintf("drr-%d", round)
		r := redRecord(user, set("a", "1"))
		k, k2, o, o2 := storetest.Key(), storetest.Key(), storetest.Key(), storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		require.NoError(t, st.Create(ctx, o, redRecord(user, set("o", "1"))))
		var de, ve, re, oe error
		together(
			func() { de = st.Delete(ctx, k) },
			func() { ve = st.RevokeUser(ctx, user) },
			func() { _, re = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r)}) },
			func() {
				_, oe = st.Rotate(ctx, &session.Rotation{OldKey: o, NewKey: o2, Meta: renewMeta(r), RevokeUser: true})
			},
		)
		require.NoError(t, de, "round %d", round)
		require.NoError(t, ve, "round %d", round)
		for _, e := range []error{re, oe} {
			if e != nil {
				require.ErrorIs(t, e, session.ErrNotFound, "round %d", round)
			}
		}
		for _, key := range []string{k, k2, o} {
			_, err := st.Load(ctx, key)
			require.ErrorIs(t, err, session.ErrNotFound, "round %d: an ended session loads", round)
		}
		live, err := st.UserSessions(ctx, user)
		require.NoError(t, err)
		_, oerr := st.Load(ctx, o2)
		if oe != nil {
			require.ErrorIs(t, oerr, session.ErrNotFound, "round %d: a failed renewal's key loads", round)
		}
		if oerr == nil {
			require.Len(t, live, 1, "round %d", round)
			assert.Equal(t, o2, live[0].Key)
		} else {
			assert.Empty(t, live, "round %d", round)
		}
	}
}

// redManyNames: more names than one multi-row statement takes (200),
// through Create, Update (set and delete) and Rotate.
func redManyNames(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	values := map[string][]byte{}
	for i := range 450 {
		values[fmt.Sprintf("n%03d'\"", i)] = []byte(fmt.Sprint(i))
	}
	k := storetest.Key()
	r := redRecord("many", values)
	require.NoError(t, st.Create(ctx, k, r))
	got, err := loadValues(ctx, st, k)
	require.NoError(t, err)
	require.Equal(t, values, got)
	d := &session.Delta{Set: map[string][]byte{}}
	for i := range 450 {
		name := fmt.Sprintf("n%03d'\"", i)
		switch i % 3 {
		case 0:
			d.Delete = append(d.Delete, name)
			delete(values, name)
		case 1:
			d.Set[name] = []byte("u")
			values[name] = []byte("u")
		}
	}
	for i := range 250 {
		d.Set[fmt.Sprintf("m%d", i)] = nil
		values[fmt.Sprintf("m%d", i)] = []byte{}
	}
	require.NoError(t, st.Update(ctx, k, d))
	got, err = loadValues(ctx, st, k)
	require.NoError(t, err)
	require.Equal(t, values, got)
	k2 := storetest.Key()
	_, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r), Delta: *d})
	require.NoError(t, err)
	got, err = loadValues(ctx, st, k2)
	require.NoError(t, err)
	require.Equal(t, values, got)
}

// redOversizedDevice: device fields beyond what a column holds (a 70 KB
// user agent, a 300-byte IP) or not UTF-8 are kept exactly or refused
// with an error, never truncated or mangled.
func redOversizedDevice(t *testing.T, b backend, st *sqlstore.Store) {
	ctx := context.Background()
	cases := []struct{ name, ua, ip string }{
		{"long agent", strings.Repeat("a", 70000), "1.2.3.4"},
		{"long IP", "ua", strings.Repeat("1", 300)},
		{"invalid UTF-8 agent", "ua\xff\xfe", "1.2.3.4"},
		{"NUL agent", "ua\x00ua", "1.2.3.4"},
	}
	for _, c := range cases {
		r := redRecord("oversized", set("a", "1"))
		r.UserAgent, r.IP = c.ua, c.ip
		k := storetest.Key()
		err := st.Create(ctx, k, r)
		if err != nil {
			t.Logf("%s: Create refused: %v", c.name, err)
			assert.ErrorIs(t, err, session.ErrStore, c.name)
			_, lerr := st.Load(ctx, k)
			assert.ErrorIs(t, lerr, session.ErrNotFound, "%s: a refused Create wrote", c.name)
		} else {
			got, err := st.Load(ctx, k)
			require.NoError(t, err, c.name)
			assert.True(t, got.UserAgent == c.ua && got.IP == c.ip, "%s: stored as agent of %d bytes, IP of %d bytes: mangled",
				c.name, len(got.UserAgent), len(got.IP))
		}
		k2 := storetest.Key()
		_, err = st.Rotate(ctx, &session.Rotation{NewKey: k2, Meta: r.Meta, MaxSessions: 10})
		if err != nil {
			t.Logf("%s: Rotate refused: %v", c.name, err)
			assert.ErrorIs(t, err, session.ErrStore, c.name)
			continue
		}
		got, err := st.Load(ctx, k2)
		require.NoError(t, err, c.name)
		assert.True(t, got.UserAgent == c.ua && got.IP == c.ip, "%s: renewed as agent of %d bytes, IP of %d bytes: mangled",
			c.name, len(got.UserAgent), len(got.IP))
	}
}

// redLogoutThroughManager: through the Manager, a logout racing a write
// and a renewal from copies of the same cookie: once the logout answered
// 200, no copy of the cookie (old or renewed) is logged in and the user
// has no session.
func redLogoutThroughManager(t *testing.T, b backend, st *sqlstore.Store) {
	a := newApp(t, st, nil, session.Config{})
	ctx := context.Background()
	logouts := 0
	defer func() { assert.Positive(t, logouts, "no logout won a race: nothing was checked") }()
	for round := range redRounds {
		user := fmt.Sprintf("lrw-%s-%d", b.name, round)
		c := a.client(t, "ua")
		code, _ := c.post("/login?u=" + user)
		require.Equal(t, 200, code)
		w, rn := a.client(t, "ua"), a.client(t, "ua")
		c.copyTo(w)
		c.copyTo(rn)
		var lc, wc, rc int
		var lb string
		together(
			func() { lc, lb = c.post("/logout") },
			func() { wc, _ = w.post("/set?k=x&v=racing") },
			func() { rc, _ = rn.post("/renew") },
		)
		if lc != 200 {
			// A logout carrying an ID renewed a moment ago is refused
			// (session.ErrRotated): it promises nothing then.
			require.Contains(t, lb, session.ErrRotated.Error(), "round %d: logout answered %d", round, lc)
			continue
		}
		logouts++
		assert.Less(t, wc, 500, "round %d: write", round)
		assert.Less(t, rc, 500, "round %d: renew", round)
		for i, cl := range []*client{c, w, rn} {
			_, who := cl.get("/whoami")
			require.Empty(t, who, "round %d: client %d is still logged in after the logout", round, i)
		}
		devices, err := a.m.Sessions(ctx, user)
		require.NoError(t, err)
		require.Empty(t, devices, "round %d: the user kept a session after the logout", round)
	}
}

// redRotateTwice: two renewals of one key at once: exactly one wins, the
// other fails with ErrNotFound and its key never loads.
func redRotateTwice(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range redRounds {
		user := ""
		if round%2 == 0 {
			user = fmt.Sprintf("rt-%d", round)
		}
		r := redRecord(user, set("a", "1"))
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		keys := []string{storetest.Key(), storetest.Key(), storetest.Key()}
		errs := make([]error, len(keys))
		fns := make([]func(), len(keys))
		for i := range keys {
			fns[i] = func() {
				rot := &session.Rotation{OldKey: k, NewKey: keys[i], Meta: renewMeta(r),
					Delta: session.Delta{Set: set("by", fmt.Sprint(i))}}
				if user != "" && i == 2 {
					rot.MaxSessions = 1 // a login at the cap, renewing its own session
				}
				_, errs[i] = st.Rotate(ctx, rot)
			}
		}
		together(fns...)
		won := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, won, "round %d: two renewals of one key both succeeded", round)
				won = i
				continue
			}
			require.ErrorIs(t, err, session.ErrNotFound, "round %d renewal %d", round, i)
		}
		require.NotEqual(t, -1, won, "round %d: no renewal succeeded", round)
		for i, key := range keys {
			got, err := loadValues(ctx, st, key)
			if i == won {
				require.NoError(t, err)
				assert.Equal(t, set("a", "1", "by", fmt.Sprint(i)), got, "round %d", round)
			} else {
				require.ErrorIs(t, err, session.ErrNotFound, "round %d: the losing renewal's key loads", round)
			}
		}
		if user != "" {
			live, err := st.UserSessions(ctx, user)
			require.NoError(t, err)
			require.Len(t, live, 1, "round %d", round)
			assert.Equal(t, keys[won], live[0].Key)
		}
	}
}

// redCap: concurrent logins of one user (and renewals of its sessions)
// under MaxSessions: never more than the cap live; evicted sessions are
// exactly those that no longer load, each reported once.
func redCap(t *testing.T, st *sqlstore.Store, refuse bool) {
	ctx := context.Background()
	const limit, logins = 2, 6
	for round := range redRounds / 2 {
		user := fmt.Sprintf("cap-%v-%d", refuse, round)
		// Two sessions already there, at the cap.
		pre := []string{storetest.Key(), storetest.Key()}
		for i, k := range pre {
			r := redRecord(user, set("pre", fmt.Sprint(i)))
			r.LastSeen = r.LastSeen.Add(-time.Duration(10-i) * time.Second)
			_, err := st.Rotate(ctx, &session.Rotation{NewKey: k, Meta: r.Meta, MaxSessions: limit,
				Delta: session.Delta{Set: r.Values}})
			require.NoError(t, err)
		}
		keys := make([]string, logins)
		evicted := make([][]session.IndexedRecord, logins)
		errs := make([]error, logins)
		fns := make([]func(), logins)
		for i := range logins {
			keys[i] = storetest.Key()
			fns[i] = func() {
				rot := &session.Rotation{NewKey: keys[i], Meta: redRecord(user, nil).Meta, MaxSessions: limit, RefuseNew: refuse}
				if i == 0 { // a renewal of a session at the cap never counts itself
					rot.OldKey = pre[1]
				}
				evicted[i], errs[i] = st.Rotate(ctx, rot)
			}
		}
		together(fns...)
		gone := map[string]bool{}
		for i := range logins {
			if errs[i] != nil {
				if refuse && i > 0 {
					require.ErrorIs(t, errs[i], session.ErrTooManySessions, "round %d login %d", round, i)
				} else {
					// The renewal of pre[1] may lose pre[1] to an eviction.
					require.ErrorIs(t, errs[i], session.ErrNotFound, "round %d login %d", round, i)
				}
			}
			for _, v := range evicted[i] {
				require.False(t, gone[v.Key], "round %d: %s evicted twice", round, v.Key)
				gone[v.Key] = true
				assert.Equal(t, user, v.Meta.UserID)
			}
		}
		live, err := st.UserSessions(ctx, user)
		require.NoError(t, err)
		require.LessOrEqual(t, len(live), limit, "round %d: the cap was exceeded", round)
		isLive := map[string]bool{}
		for _, l := range live {
			isLive[l.Key] = true
		}
		for _, k := range slices.Concat(pre, keys) {
			_, err := st.Load(ctx, k)
			if err != nil {
				require.ErrorIs(t, err, session.ErrNotFound)
			}
			assert.Equal(t, err == nil, isLive[k], "round %d: Load and UserSessions disagree on %s", round, k)
			if gone[k] {
				assert.Error(t, err, "round %d: an evicted session still loads", round)
			}
		}
		for i, k := range keys {
			if errs[i] != nil {
				assert.False(t, isLive[k], "round %d: a refused login's key loads", round)
			}
		}
		for k := range gone {
			_, err := st.Load(ctx, k)
			var ts *session.Tombstone
			if assert.ErrorAs(t, err, &ts) {
				assert.Equal(t, session.EndDestroyed, ts.Reason, "round %d: an evicted session's tombstone", round)
			}
		}
		if !refuse {
			// Every login succeeded (but maybe the renewal): the cap is full.
			assert.Len(t, live, limit, "round %d", round)
			// A session ends only by eviction or by the renewal: the rest load.
			check := slices.Concat(pre[:1], keys[1:])
			if errs[0] == nil {
				check = append(check, keys[0]) // pre[1] is its tombstone
			} else {
				check = append(check, pre[1]) // evicted before its renewal
			}
			for _, k := range check {
				assert.Equal(t, !gone[k], isLive[k], "round %d: %s neither evicted nor live", round, k)
			}
		} else {
			// At the cap, refused logins never evict; only the renewal may pass.
			assert.Empty(t, gone, "round %d: RefuseNew evicted", round)
			assert.True(t, isLive[pre[0]], "round %d", round)
		}
	}
}

// redRevokeOthersTwice: two sessions of one user each "log out my other
// devices" at once: one renewal wins, the other is ErrNotFound (revoked),
// and, as in either serial order (Rotation step 2: the revocation comes
// first even when the old key is gone), the loser's revocation ends the
// winner's new session too: the user has none left, no key loads.
func redRevokeOthersTwice(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range redRounds {
		user := fmt.Sprintf("rot-%d", round)
		r := redRecord(user, set("a", "1"))
		olds := []string{storetest.Key(), storetest.Key()}
		news := []string{storetest.Key(), storetest.Key()}
		for _, k := range olds {
			require.NoError(t, st.Create(ctx, k, r))
		}
		errs := make([]error, 2)
		together(
			func() {
				_, errs[0] = st.Rotate(ctx, &session.Rotation{OldKey: olds[0], NewKey: news[0], Meta: renewMeta(r), RevokeUser: true})
			},
			func() {
				_, errs[1] = st.Rotate(ctx, &session.Rotation{OldKey: olds[1], NewKey: news[1], Meta: renewMeta(r), RevokeUser: true})
			},
		)
		won := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(t, -1, won, "round %d: both log-out-everywhere renewals won", round)
				won = i
			} else {
				require.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
			}
		}
		require.NotEqual(t, -1, won, "round %d: both lost", round)
		live, err := st.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Empty(t, live, "round %d", round)
		for _, k := range slices.Concat(olds, news) {
			_, err := st.Load(ctx, k)
			require.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
		}
	}
}

// redCapRenewals: every session of a user at the cap renews at once: a
// renewal never counts itself, so all succeed and none is evicted or
// refused.
func redCapRenewals(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	const limit = 3
	for round := range redRounds / 2 {
		user := fmt.Sprintf("capr-%d", round)
		r := redRecord(user, set("a", "1"))
		olds := make([]string, limit)
		news := make([]string, limit)
		for i := range olds {
			olds[i], news[i] = storetest.Key(), storetest.Key()
			require.NoError(t, st.Create(ctx, olds[i], r))
		}
		errs := make([]error, limit)
		evicted := make([][]session.IndexedRecord, limit)
		fns := make([]func(), limit)
		for i := range fns {
			fns[i] = func() {
				evicted[i], errs[i] = st.Rotate(ctx, &session.Rotation{OldKey: olds[i], NewKey: news[i], Meta: renewMeta(r),
					MaxSessions: limit, RefuseNew: i%2 == 0})
			}
		}
		together(fns...)
		for i := range fns {
			require.NoError(t, errs[i], "round %d: renewal %d at the cap", round, i)
			assert.Empty(t, evicted[i], "round %d: renewal %d evicted", round, i)
		}
		live, err := st.UserSessions(ctx, user)
		require.NoError(t, err)
		assert.Len(t, live, limit, "round %d", round)
	}
}

// redHostileNames: value names and values of odd bytes and sizes, kept
// exactly through Create, Update and Rotate; on MySQL a 255-byte name is
// the limit and 256 is refused with a clear error and nothing written.
func redHostileNames(t *testing.T, b backend, st *sqlstore.Store) {
	ctx := context.Background()
	big := make([]byte, 4<<20)
	_, _ = rand.Read(big)
	n255 := strings.Repeat("\xff", 254) + "n"
	values := map[string][]byte{
		"":                {'e'},
		"a":               {},
		"A":               {'A'},
		"a ":              {'s'},
		"a\x00":           {0},
		"\x01ff":          []byte("escape-looking"),
		"\xff":            {0xff},
		"\x01":            {1},
		"é":               []byte("composed"),
		"e\u0301":         []byte("decomposed"),
		n255:              []byte("255"),
		`["x","eA=="]`:    []byte(`["json"]`),
		"eA==":            []byte("eA=="),
		"big":             big,
		"\\\"'%_*?\n\t\r": []byte("\\\"'"),
	}
	k := storetest.Key()
	r := redRecord("hostile", values)
	require.NoError(t, st.Create(ctx, k, r))
	got, err := loadValues(ctx, st, k)
	require.NoError(t, err)
	require.Len(t, got, len(values))
	for name, v := range values {
		assert.True(t, bytes.Equal(v, got[name]), "Create: name %q: got %d bytes, want %d", name, len(got[name]), len(v))
	}

	big2 := bytes.Repeat([]byte{0}, 4<<20)
	require.NoError(t, st.Update(ctx, k, &session.Delta{
		Set:    map[string][]byte{"big": big2, "a\x00": nil, "new\xfe": {}},
		Delete: []string{"A", "e\u0301", "\x01"},
	}))
	want := map[string][]byte{}
	for n, v := range values {
		want[n] = v
	}
	want["big"], want["a\x00"], want["new\xfe"] = big2, []byte{}, []byte{}
	delete(want, "A")
	delete(want, "e\u0301")
	delete(want, "\x01")
	got, err = loadValues(ctx, st, k)
	require.NoError(t, err)
	assert.Equal(t, len(want), len(got))
	for name, v := range want {
		assert.True(t, bytes.Equal(v, got[name]), "Update: name %q", name)
	}

	k2 := storetest.Key()
	_, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r), Delta: session.Delta{
		Set: map[string][]byte{"": []byte("renewed"), "big": big}, Delete: []string{n255, "a "},
	}})
	require.NoError(t, err)
	want[""], want["big"] = []byte("renewed"), big
	delete(want, n255)
	delete(want, "a ")
	got, err = loadValues(ctx, st, k2)
	require.NoError(t, err)
	assert.Equal(t, len(want), len(got))
	for name, v := range want {
		assert.True(t, bytes.Equal(v, got[name]), "Rotate: name %q", name)
	}

	// 256 bytes: MySQL refuses it, whole, with a clear error; others keep it.
	n256 := n255 + "x"
	k3 := storetest.Key()
	errCreate := st.Create(ctx, k3, redRecord("", map[string][]byte{n256: {1}, "ok": {2}}))
	errUpdate := st.Update(ctx, k2, &session.Delta{Set: map[string][]byte{n256: {1}, "ok": {2}}})
	_, errRotate := st.Rotate(ctx, &session.Rotation{OldKey: k2, NewKey: storetest.Key(), Meta: renewMeta(r),
		Delta: session.Delta{Set: map[string][]byte{n256: {1}}}})
	if b.d != sqlstore.MySQL {
		require.NoError(t, errCreate)
		require.NoError(t, errUpdate)
		require.NoError(t, errRotate)
		got, err := loadValues(ctx, st, k3)
		require.NoError(t, err)
		assert.Equal(t, map[string][]byte{n256: {1}, "ok": {2}}, got)
		return
	}
	for name, err := range map[string]error{"Create": errCreate, "Update": errUpdate, "Rotate": errRotate} {
		require.Error(t, err, "%s of a 256-byte name", name)
		assert.Contains(t, err.Error(), "255", name)
		assert.NotErrorIs(t, err, session.ErrNotFound, name)
	}
	_, err = st.Load(ctx, k3)
	require.ErrorIs(t, err, session.ErrNotFound, "the refused Create wrote")
	got, err = loadValues(ctx, st, k2)
	require.NoError(t, err, "the refused Rotate ended the old key")
	_, ok := got["ok"]
	assert.False(t, ok, "the refused Update was half applied")
	// Deleting a name longer than any stored one is harmless.
	require.NoError(t, st.Update(ctx, k2, &session.Delta{Delete: []string{n256 + n256}}))
}

// redHostileDevice: user agents and IPs with quotes, backslashes, JSON and
// SQL-looking text come back exactly through Create, Rotate, UserSessions
// and the cap's eviction report.
func redHostileDevice(t *testing.T, b backend, st *sqlstore.Store) {
	ctx := context.Background()
	agents := []string{
		`Mozilla/5.0 "quoted" 'single' \ back\\slash`,
		`{"ua":"x","n":1,"a":[1,2]}`,
		`["eA==","eQ=="]`,
		`'); DROP TABLE session_records; --`,
		"tab\tnew\nline\r\x01\x7f",
		`\u0000 \x00 %s %d ?`,
		strings.Repeat(`"\`, 4000),
		"ünïcødé",
		"",
	}
	user := "device-" + b.name
	for i, ua := range agents {
		r := redRecord(user, set("i", fmt.Sprint(i)))
		r.UserAgent = ua
		r.IP = `::ffff:127.0.0.1"'\` + fmt.Sprint(i)
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, r), "agent %d", i)
		got, err := st.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, ua, got.UserAgent, "Create: agent %d", i)
		assert.Equal(t, r.IP, got.IP, "Create: agent %d", i)

		k2 := storetest.Key()
		m := renewMeta(r)
		m.UserAgent = ua + "'renewed\""
		evicted, err := st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: m, MaxSessions: 1})
		require.NoError(t, err, "agent %d", i)
		got, err = st.Load(ctx, k2)
		require.NoError(t, err)
		assert.Equal(t, m.UserAgent, got.UserAgent, "Rotate: agent %d", i)
		live, err := st.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Len(t, live, 1, "agent %d", i)
		assert.Equal(t, m.UserAgent, live[0].Meta.UserAgent, "UserSessions: agent %d", i)
		if i > 0 {
			require.Len(t, evicted, 1, "agent %d", i)
			assert.Equal(t, agents[i-1]+"'renewed\"", evicted[0].Meta.UserAgent, "evicted: agent %d", i)
		}
	}
}

// redEvictedAgentUnicode: a login that evicts, for the cap, a session
// whose user agent holds characters outside Latin-1 (an emoji, CJK)
// succeeds and reports the agent exactly.
func redEvictedAgentUnicode(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	for i, ua := range []string{"Mozilla 🍪", "浏览器", "line\u2028sep"} {
		user := fmt.Sprintf("evict-ua-%d", i)
		r := redRecord(user, nil)
		r.UserAgent = ua
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		got, err := st.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, ua, got.UserAgent, "Create keeps the agent")
		evicted, err := st.Rotate(ctx, &session.Rotation{NewKey: storetest.Key(), Meta: renewMeta(r), MaxSessions: 1})
		if !assert.NoError(t, err, "agent %q: a login that evicts this session fails", ua) {
			continue
		}
		require.Len(t, evicted, 1)
		assert.Equal(t, ua, evicted[0].Meta.UserAgent)
	}
}

// redHostileUsers: user IDs that look like JSON, base64 (of another user),
// hex or SQL are distinct users: revoking one leaves the others.
func redHostileUsers(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	users := []string{"abc", "YWJj", "616263", `["abc"]`, `{"user":"abc"}`, `abc' OR '1'='1`, `abc\`, "abc\x00", "ABC", "abc "}
	keys := map[string]string{}
	for _, u := range users {
		k := storetest.Key()
		r := redRecord(u, set("u", u))
		_, err := st.Rotate(ctx, &session.Rotation{NewKey: k, Meta: r.Meta, MaxSessions: 1, Delta: session.Delta{Set: r.Values}})
		require.NoError(t, err, "user %q", u)
		keys[u] = k
	}
	for _, u := range users {
		live, err := st.UserSessions(ctx, u)
		require.NoError(t, err)
		require.Len(t, live, 1, "user %q sees other users' sessions", u)
		assert.Equal(t, keys[u], live[0].Key)
		assert.Equal(t, u, live[0].Meta.UserID)
	}
	require.NoError(t, st.RevokeUser(ctx, "abc"))
	for _, u := range users {
		got, err := st.Load(ctx, keys[u])
		if u == "abc" {
			require.ErrorIs(t, err, session.ErrNotFound)
			continue
		}
		require.NoError(t, err, "revoking %q ended %q", "abc", u)
		assert.Equal(t, u, got.UserID)
		assert.Equal(t, set("u", u), got.Values)
	}
}

// killAndCall runs call while the row of key is locked, kills the call's
// connection from the server side once it waits on the lock, and returns
// the call's error.
func killAndCall(t *testing.T, b backend, db *sql.DB, srv *server, key, text string, call func() error) error {
	t.Helper()
	release := lockRow(t, db, b, srv, key)
	killed := make(chan error, 1)
	go func() {
		err := killBlocked(db, b.d, text)
		if err != nil {
			release() // fail, not hang
		}
		killed <- err
	}()
	err := call()
	require.NoError(t, <-killed)
	release()
	return err
}

// redKilledRotate: the connection of a renewal waiting on the old row's
// lock is killed: the renewal errors with ErrStore, and it landed whole or
// not at all.
func redKilledRotate(t *testing.T, b backend, db *sql.DB, srv *server, st *sqlstore.Store) {
	ctx := context.Background()
	text := "r.state, r.idle_ns" // the locking read in session_rotate_v1
	if b.d == sqlstore.Postgres {
		text = "session_rotate("
	}
	for round := range 4 {
		revoke := round%2 == 1 // RevokeOthers: the user's other session goes too
		user := fmt.Sprintf("kr-%d", round)
		r := redRecord(user, set("a", "1", "b", "2"))
		k, k2, other := storetest.Key(), storetest.Key(), storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		require.NoError(t, st.Create(ctx, other, redRecord(user, set("o", "1"))))
		var evicted []session.IndexedRecord
		err := killAndCall(t, b, db, srv, k, text, func() error {
			var err error
			evicted, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r), MaxSessions: 3,
				RevokeUser: revoke, Delta: session.Delta{Set: set("c", "3"), Delete: []string{"a"}}})
			return err
		})
		require.Error(t, err, "round %d: a renewal whose connection was killed succeeded", round)
		assert.ErrorIs(t, err, session.ErrStore, "round %d", round)
		assert.Empty(t, evicted)
		old, oerr := loadValues(ctx, st, k)
		renewed, nerr := loadValues(ctx, st, k2)
		othervals, otherr := loadValues(ctx, st, other)
		if oerr == nil {
			assert.Equal(t, set("a", "1", "b", "2"), old, "round %d: the old session changed", round)
			require.ErrorIs(t, nerr, session.ErrNotFound, "round %d: half a renewal: both keys load", round)
			require.NoError(t, otherr, "round %d: half a renewal: the revocation landed without it", round)
			assert.Equal(t, set("o", "1"), othervals)
		} else {
			// The server finished the renewal after the client gave up.
			require.NoError(t, nerr, "round %d: neither key loads", round)
			assert.Equal(t, set("b", "2", "c", "3"), renewed, "round %d", round)
			var ts *session.Tombstone
			require.ErrorAs(t, oerr, &ts)
			assert.Equal(t, k2, ts.Next)
			if revoke {
				require.ErrorIs(t, otherr, session.ErrNotFound, "round %d: the renewal landed without its revocation", round)
			}
		}
	}
	// The pool recovers.
	k := storetest.Key()
	require.NoError(t, st.Create(ctx, k, redRecord("", set("a", "1"))))
	_, err := st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: storetest.Key(), Meta: redRecord("", nil).Meta})
	require.NoError(t, err)
}

// redKilledDelete: the connection of a logout waiting on the row's lock
// is killed: the logout errors with ErrStore, and the session is either
// whole or a tombstone with no value rows.
func redKilledDelete(t *testing.T, b backend, db *sql.DB, srv *server, st *sqlstore.Store) {
	ctx := context.Background()
	text := "UPDATE session_records SET state" // session_end_v1's UPDATE
	if b.d == sqlstore.Postgres {
		text = "session_end("
	}
	for round := range 3 {
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, redRecord("kd", set("a", "1", "b", "2"))))
		err := killAndCall(t, b, db, srv, k, text, func() error { return st.Delete(ctx, k) })
		require.Error(t, err, "round %d: a logout whose connection was killed succeeded", round)
		assert.ErrorIs(t, err, session.ErrStore, "round %d", round)
		got, err := loadValues(ctx, st, k)
		if err == nil {
			assert.Equal(t, set("a", "1", "b", "2"), got, "round %d: half a logout", round)
		} else {
			require.ErrorIs(t, err, session.ErrNotFound)
			assert.Zero(t, valueRows(t, db, b.d, k), "round %d: half a logout", round)
		}
		require.NoError(t, st.Delete(ctx, k), "the pool recovers")
	}
}

// redKilledCreate: the connection of a Create replacing a record whose row
// is locked is killed: the Create errors with ErrStore and the key holds
// the old record or the new one, whole.
func redKilledCreate(t *testing.T, b backend, db *sql.DB, srv *server, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range 4 {
		k := storetest.Key()
		old := redRecord("kc-old", set("a", "1", "b", "2"))
		require.NoError(t, st.Create(ctx, k, old))
		nw := redRecord("kc-new", set("c", "3"))
		err := killAndCall(t, b, db, srv, k, "INSERT INTO session_records", func() error {
			return st.Create(ctx, k, nw)
		})
		require.Error(t, err, "round %d: a Create whose connection was killed succeeded", round)
		assert.ErrorIs(t, err, session.ErrStore, "round %d", round)
		got, err := st.Load(ctx, k)
		require.NoError(t, err, "round %d", round)
		switch got.UserID {
		case "kc-old":
			assert.Equal(t, old.Values, got.Values, "round %d: the old record half replaced", round)
		case "kc-new":
			assert.Equal(t, nw.Values, got.Values, "round %d: the new record half written", round)
		default:
			t.Fatalf("round %d: user %q", round, got.UserID)
		}
	}
}
