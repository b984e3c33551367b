package drivertest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
