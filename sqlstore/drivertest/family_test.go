package drivertest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFamily checks the family model (Rotator.Family and EndFamily) on
// every backend: the round trip of Meta.Family, a long renewal chain
// ended in one step, retired tombstones gone before the end, a user
// change, and EndFamily racing renewals.
func TestFamily(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st := newStore(t, db, b.d)
		t.Run("RoundTrip", func(t *testing.T) { famRoundTrip(t, st) })
		t.Run("LongChain", func(t *testing.T) { famLongChain(t, b, db, st) })
		t.Run("TombstonesExpired", func(t *testing.T) { famTombstonesExpired(t, db, b.d) })
		t.Run("UserChange", func(t *testing.T) { famUserChange(t, st) })
		t.Run("EndRacingRotate", func(t *testing.T) { famRacingRotate(t, b, db, st) })
		if srv != nil && (srv.pg != nil || srv.maria != nil) {
			t.Run("EndWaitsForRotate", func(t *testing.T) { famEndWaitsForRotate(t, b, db, srv, st) })
		}
		t.Run("ThroughManager", func(t *testing.T) { famThroughManager(t, st) })
	})
}

// famRecord is a live record of user in family, with values.
func famRecord(user, family string, values map[string][]byte) *session.Record {
	r := redRecord(user, values)
	r.Family = family
	return r
}

// renew rotates old to a new key in family and returns the new key.
func renew(t *testing.T, st *sqlstore.Store, old string, r *session.Record, family string) string {
	t.Helper()
	next := storetest.Key()
	m := renewMeta(r)
	m.Family = family
	_, err := st.Rotate(context.Background(), &session.Rotation{OldKey: old, NewKey: next, Meta: m})
	require.NoError(t, err)
	return next
}

// famRoundTrip: Family is stored and returned by Load, Rotate's tombstone,
// UserSessions and Family itself, for a cookie session (family = its
// first key) and a header session (family != key from the start).
func famRoundTrip(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	user := "fam-rt"

	// A cookie session: its family is its own key.
	k := storetest.Key()
	r := famRecord(user, k, set("a", "1"))
	require.NoError(t, st.Create(ctx, k, r))
	got, err := st.Load(ctx, k)
	require.NoError(t, err)
	assert.Contains(t, []string{"", k}, got.Family, "a family that is the key itself")
	key, fr, err := st.Family(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, k, key)
	assert.Equal(t, set("a", "1"), fr.Values)

	// Renewed: the new key is the family's live one; the old key's
	// tombstone names the family.
	k2 := renew(t, st, k, r, k)
	got, err = st.Load(ctx, k2)
	require.NoError(t, err)
	assert.Equal(t, k, got.Family)
	var ts *session.Tombstone
	_, err = st.Load(ctx, k)
	require.ErrorAs(t, err, &ts)
	assert.Equal(t, session.EndRotated, ts.Reason)
	assert.Equal(t, k, ts.Family)
	assert.Equal(t, k2, ts.Next)
	key, fr, err = st.Family(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, k2, key)
	assert.Equal(t, set("a", "1"), fr.Values)
	assert.Equal(t, user, fr.UserID)
	live, err := st.UserSessions(ctx, user)
	require.NoError(t, err)
	require.Len(t, live, 1)
	assert.Equal(t, k, live[0].Meta.Family)

	// A header session: a family different from every key, from its
	// first record on (Rotate with no old key).
	hk, hf := storetest.Key(), "hdr-"+storetest.Key()[:20]
	hr := famRecord(user, hf, nil)
	_, err = st.Rotate(ctx, &session.Rotation{NewKey: hk, Meta: hr.Meta, MaxSessions: 10, Delta: session.Delta{Set: set("h", "1")}})
	require.NoError(t, err)
	got, err = st.Load(ctx, hk)
	require.NoError(t, err)
	assert.Equal(t, hf, got.Family)
	key, _, err = st.Family(ctx, hf)
	require.NoError(t, err)
	assert.Equal(t, hk, key)
	_, _, err = st.Family(ctx, hk)
	assert.ErrorIs(t, err, session.ErrNotFound, "a header session's key is no family")
	// Create with a family (refresh-style) and the fast path of Rotate.
	ck := storetest.Key()
	require.NoError(t, st.Create(ctx, ck, famRecord("", "created-fam", nil)))
	key, _, err = st.Family(ctx, "created-fam")
	require.NoError(t, err)
	assert.Equal(t, ck, key)
	rk := storetest.Key()
	_, err = st.Rotate(ctx, &session.Rotation{NewKey: rk, Meta: famRecord("", "rotated-fam", nil).Meta})
	require.NoError(t, err)
	key, _, err = st.Family(ctx, "rotated-fam")
	require.NoError(t, err)
	assert.Equal(t, rk, key)

	// Unknown, empty and over-long families.
	for _, f := range []string{"no-such-family", "", string(make([]byte, 300))} {
		_, _, err = st.Family(ctx, f)
		assert.ErrorIs(t, err, session.ErrNotFound, "%q", f)
		assert.NotErrorIs(t, err, session.ErrStore)
		_, err = st.EndFamily(ctx, f)
		assert.ErrorIs(t, err, session.ErrNotFound, "%q", f)
		assert.NotErrorIs(t, err, session.ErrStore)
	}

	// EndFamily ends the live record as Delete does.
	ended, err := st.EndFamily(ctx, k)
	require.NoError(t, err)
	assert.Equal(t, k2, ended.Key)
	assert.Equal(t, user, ended.Meta.UserID)
	assert.Equal(t, k, ended.Meta.Family)
	_, err = st.Load(ctx, k2)
	require.ErrorAs(t, err, &ts)
	assert.Equal(t, session.EndDestroyed, ts.Reason)
	_, _, err = st.Family(ctx, k)
	assert.ErrorIs(t, err, session.ErrNotFound)
	_, err = st.EndFamily(ctx, k)
	assert.ErrorIs(t, err, session.ErrNotFound, "a second EndFamily")
	live, err = st.UserSessions(ctx, user)
	require.NoError(t, err)
	require.Len(t, live, 1, "only the header session is left")
	assert.Equal(t, hk, live[0].Key)
	assert.Equal(t, hf, live[0].Meta.Family)
}

// famLongChain: a family renewed 300 times is found and ended in one
// step; afterwards no key of it is live and no renewal brings it back.
func famLongChain(t *testing.T, b backend, db *sql.DB, st *sqlstore.Store) {
	ctx := context.Background()
	const renewals = 300
	user := "fam-chain-" + b.name
	first := storetest.Key()
	r := famRecord(user, first, set("a", "1"))
	require.NoError(t, st.Create(ctx, first, r))
	keys := []string{first}
	for range renewals {
		keys = append(keys, renew(t, st, keys[len(keys)-1], r, first))
	}
	last := keys[len(keys)-1]
	key, rec, err := st.Family(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, last, key)
	assert.Equal(t, set("a", "1"), rec.Values)

	ended, err := st.EndFamily(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, last, ended.Key)
	assert.Equal(t, user, ended.Meta.UserID)
	for i, k := range keys {
		_, err := st.Load(ctx, k)
		require.ErrorIs(t, err, session.ErrNotFound, "key %d of the chain is live", i)
	}
	assert.Zero(t, valueRows(t, db, b.d, last), "the ended session keeps its values")
	live, err := st.UserSessions(ctx, user)
	require.NoError(t, err)
	assert.Empty(t, live)
	_, err = st.Rotate(ctx, &session.Rotation{OldKey: last, NewKey: storetest.Key(), Meta: renewMeta(r)})
	require.ErrorIs(t, err, session.ErrNotFound, "a renewal after EndFamily")
	_, _, err = st.Family(ctx, first)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// famTombstonesExpired: with a short linger, every retired key's
// tombstone expires and is reaped while the live record is kept alive by
// its writes; EndFamily still ends it (it never needed the tombstones).
func famTombstonesExpired(t *testing.T, db *sql.DB, d sqlstore.Dialect) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(by time.Duration) { mu.Lock(); now = now.Add(by); mu.Unlock() }
	st := newStore(t, db, d, sqlstore.WithClock(clock), sqlstore.WithReapInterval(0))

	first := storetest.Key()
	r := famRecord("fam-linger", first, set("a", "1"))
	r.CreatedAt, r.LastSeen, r.Expires = clock(), clock(), clock().Add(time.Minute)
	r.Linger = time.Second
	require.NoError(t, st.Create(ctx, first, r))
	keys := []string{first}
	for range 5 {
		advance(10 * time.Millisecond)
		r.LastSeen = clock()
		keys = append(keys, renew(t, st, keys[len(keys)-1], r, first))
	}
	last := keys[len(keys)-1]
	// Ten minutes of activity: each write slides the expiry.
	for range 20 {
		advance(30 * time.Second)
		require.NoError(t, st.Update(ctx, last, &session.Delta{LastSeen: clock(), Expires: clock().Add(time.Minute)}))
	}
	_, err := st.Reap(ctx)
	require.NoError(t, err)
	for i, k := range keys[:len(keys)-1] {
		_, err := st.Load(ctx, k)
		require.ErrorIs(t, err, session.ErrNotFound)
		var ts *session.Tombstone
		require.False(t, errors.As(err, &ts), "retired key %d still has its tombstone", i)
	}
	key, _, err := st.Family(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, last, key)
	ended, err := st.EndFamily(ctx, first)
	require.NoError(t, err)
	assert.Equal(t, last, ended.Key)
	_, err = st.Load(ctx, last)
	require.ErrorIs(t, err, session.ErrNotFound)
}

// famUserChange: a renewal to another user (anonymous -> alice) starts a
// new family: the old family has no live record, the renewed tombstone
// names the new one, and ending the old family leaves the new session.
func famUserChange(t *testing.T, st *sqlstore.Store) {
	ctx := context.Background()
	anon := storetest.Key()
	r := famRecord("", anon, set("cart", "1"))
	require.NoError(t, st.Create(ctx, anon, r))
	logged := storetest.Key()
	m := renewMeta(r)
	m.UserID, m.Family = "fam-alice", logged
	_, err := st.Rotate(ctx, &session.Rotation{OldKey: anon, NewKey: logged, Meta: m, Delta: session.Delta{Clear: true}})
	require.NoError(t, err)
	var ts *session.Tombstone
	_, err = st.Load(ctx, anon)
	require.ErrorAs(t, err, &ts)
	assert.Equal(t, logged, ts.Family, "the renewal's tombstone names the new family")
	_, _, err = st.Family(ctx, anon)
	assert.ErrorIs(t, err, session.ErrNotFound, "the anonymous family ended with the login")
	_, err = st.EndFamily(ctx, anon)
	assert.ErrorIs(t, err, session.ErrNotFound)
	_, err = st.Load(ctx, logged)
	require.NoError(t, err, "ending the old family ended the new session")
	key, rec, err := st.Family(ctx, logged)
	require.NoError(t, err)
	assert.Equal(t, logged, key)
	assert.Equal(t, "fam-alice", rec.UserID)

	// A renewal of the same user keeps the new family.
	next := renew(t, st, logged, &session.Record{Meta: m}, logged)
	key, _, err = st.Family(ctx, logged)
	require.NoError(t, err)
	assert.Equal(t, next, key)
	ended, err := st.EndFamily(ctx, logged)
	require.NoError(t, err)
	assert.Equal(t, next, ended.Key)
}

// famRacingRotate: EndFamily racing renewals of its family (one, or two
// in a row) for many rounds: EndFamily always finds a live record (there
// is one at every moment), a renewal that succeeded was ended by it (its
// key is the one ended, or the renewal came after and failed), and no key
// of the family is live afterwards.
func famRacingRotate(t *testing.T, b backend, db *sql.DB, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range 2 * redRounds {
		user := fmt.Sprintf("fam-race-%s-%d", b.name, round)
		family := storetest.Key()
		r := famRecord(user, family, set("a", "1"))
		k := family
		if round%2 == 1 { // a header-style family
			k = storetest.Key()
		}
		require.NoError(t, st.Create(ctx, k, r))
		steps := 1 + round%3/2 // some rounds renew twice in a row
		keys := []string{k}
		for range steps {
			keys = append(keys, storetest.Key())
		}
		var ended *session.IndexedRecord
		var ee error
		rerrs := make([]error, steps)
		together(
			func() { ended, ee = st.EndFamily(ctx, family) },
			func() {
				for i := range steps {
					m := renewMeta(r)
					_, rerrs[i] = st.Rotate(ctx, &session.Rotation{OldKey: keys[i], NewKey: keys[i+1], Meta: m,
						Delta: session.Delta{Set: set("by", fmt.Sprint(i))}})
					if rerrs[i] != nil {
						break
					}
				}
			},
		)
		require.NoError(t, ee, "round %d: EndFamily found no live record", round)
		// The renewals that succeeded form a prefix; the one ended is the
		// key the last of them wrote.
		done := 0
		for _, err := range rerrs {
			if err != nil {
				require.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
				break
			}
			done++
		}
		assert.Equal(t, keys[done], ended.Key, "round %d: %d renewals succeeded, the wrong key was ended", round, done)
		for i, key := range keys {
			_, err := st.Load(ctx, key)
			require.ErrorIs(t, err, session.ErrNotFound, "round %d: key %d of the family is live after EndFamily", round, i)
		}
		_, _, err := st.Family(ctx, family)
		require.ErrorIs(t, err, session.ErrNotFound, "round %d", round)
		live, err := st.UserSessions(ctx, user)
		require.NoError(t, err)
		require.Empty(t, live, "round %d", round)
		assert.Zero(t, valueRows(t, db, b.d, keys[done]), "round %d: the ended record keeps values", round)
	}
}

// famEndWaitsForRotate makes the race deterministic on the servers: the
// family's live row is locked by another transaction, a renewal queues
// on that lock, then EndFamily queues behind it. Once the lock is
// released, the renewal commits first and EndFamily, whose snapshot
// never held the renewed row, must end that row, not report the old
// one's tombstone as "no live record".
func famEndWaitsForRotate(t *testing.T, b backend, db *sql.DB, srv *server, st *sqlstore.Store) {
	ctx := context.Background()
	rotateText, endText := "r.state, r.idle_ns", "o_expires, o_family" // in the MySQL procedures
	if b.d == sqlstore.Postgres {
		rotateText, endText = "session_rotate(", "session_end_family("
	}
	for round := range 4 {
		family := storetest.Key()
		r := famRecord(fmt.Sprintf("fam-wait-%d", round), family, set("a", "1"))
		k := family
		if round%2 == 1 {
			k = storetest.Key()
		}
		require.NoError(t, st.Create(ctx, k, r))
		k2 := storetest.Key()
		release := lockRow(t, db, b, srv, k)
		var re, ee error
		var ended *session.IndexedRecord
		rotated, endedc := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(rotated)
			_, re = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r)})
		}()
		_, rerr := blockedID(db, b.d, rotateText)
		var eerr error
		if rerr == nil {
			go func() {
				defer close(endedc)
				ended, ee = st.EndFamily(ctx, family)
			}()
			_, eerr = blockedID(db, b.d, endText)
		} else {
			close(endedc)
		}
		release()
		<-rotated
		<-endedc
		require.NoError(t, rerr, "round %d: the renewal never waited on the lock", round)
		require.NoError(t, eerr, "round %d: EndFamily never waited on the lock", round)
		require.NoError(t, ee, "round %d: EndFamily missed the renewed record", round)
		if re == nil {
			assert.Equal(t, k2, ended.Key, "round %d", round)
		} else {
			require.ErrorIs(t, re, session.ErrNotFound, "round %d", round)
			assert.Equal(t, k, ended.Key, "round %d", round)
		}
		t.Logf("round %d: renewal ok=%v, ended %s", round, re == nil, map[bool]string{true: "the renewed key", false: "the old key"}[ended.Key == k2])
		for _, key := range []string{k, k2} {
			_, err := st.Load(ctx, key)
			require.ErrorIs(t, err, session.ErrNotFound, "round %d: a key of the ended family loads", round)
		}
	}
}

// famThroughManager: through a real Manager, a logout after renewals ends
// the session, and a second device's copy of a renewed-away cookie is
// not logged in afterwards.
func famThroughManager(t *testing.T, st *sqlstore.Store) {
	a := newApp(t, st, nil, session.Config{})
	ctx := context.Background()
	user := "fam-manager"
	c := a.client(t, "ua")
	code, _ := c.post("/login?u=" + user)
	require.Equal(t, 200, code)
	for range 3 {
		code, _ = c.post("/renew")
		require.Equal(t, 200, code)
	}
	code, _ = c.post("/logout")
	require.Equal(t, 200, code)
	_, who := c.get("/whoami")
	assert.Empty(t, who)
	devices, err := a.m.Sessions(ctx, user)
	require.NoError(t, err)
	assert.Empty(t, devices)
}

// TestMigrateAddsFamily: Migrate upgrades a schema from before the family
// column (the column, its index, and the routines written for it) and
// stays idempotent; rows written before it (family NULL) are found by
// their own key.
func TestMigrateAddsFamily(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		old := newStore(t, db, b.d)
		k := storetest.Key()
		r := famRecord("fam-legacy", "", set("a", "1"))
		require.NoError(t, old.Create(ctx, k, r))
		require.NoError(t, old.Close())

		// The schema before families, with routines of the old signatures.
		var stmts []string
		switch b.d {
		case sqlstore.Postgres:
			stmts = []string{`DROP INDEX session_records_family`, `ALTER TABLE session_records DROP COLUMN family`,
				`CREATE FUNCTION session_rotate(p_old text, p_new text, p_user bytea, p_revoke boolean, p_max integer,
  p_refuse boolean, p_now bigint, p_created bigint, p_seen bigint, p_auth bigint, p_ua text, p_ip text, p_expires bigint,
  p_linger bigint, p_clear boolean, p_persist smallint, p_touts boolean, p_tidle bigint, p_tabs bigint, p_tlinger bigint,
  p_del text[], p_names text[], p_vals bytea[]) RETURNS TABLE (status integer) LANGUAGE sql AS 'SELECT 1'`}
		case sqlstore.MySQL:
			stmts = []string{`ALTER TABLE session_records DROP INDEX session_records_family, DROP COLUMN family`,
				`DROP PROCEDURE session_create_v1`, `CREATE PROCEDURE session_create_v1(p_key VARBINARY(255)) BEGIN END`,
				`DROP PROCEDURE session_rotate_v1`, `CREATE PROCEDURE session_rotate_v1(p_key VARBINARY(255)) BEGIN END`}
		default:
			stmts = []string{`DROP INDEX session_records_family`, `ALTER TABLE session_records DROP COLUMN family`}
		}
		for _, q := range stmts {
			_, err := db.Exec(q)
			require.NoError(t, err, q)
		}
		migrate(t, db, b.d)
		migrate(t, db, b.d) // idempotent
		if b.d == sqlstore.Postgres {
			var n int
			require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM pg_proc WHERE proname = 'session_rotate'`).Scan(&n))
			assert.Equal(t, 1, n, "the overload from before families is left")
		}

		st := newStore(t, db, b.d)
		key, got, err := st.Family(ctx, k)
		require.NoError(t, err, "a record from before the family column")
		assert.Equal(t, k, key)
		assert.Equal(t, set("a", "1"), got.Values)
		k2 := renew(t, st, k, r, k)
		key, _, err = st.Family(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, k2, key)
		hk := storetest.Key()
		require.NoError(t, st.Create(ctx, hk, famRecord("fam-legacy", "hdr-after-upgrade", nil)))
		ended, err := st.EndFamily(ctx, "hdr-after-upgrade")
		require.NoError(t, err)
		assert.Equal(t, hk, ended.Key)
		ended, err = st.EndFamily(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, k2, ended.Key)
	})
}
