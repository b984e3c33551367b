package drivertest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func countRows(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM `+table).Scan(&n))
	return n
}

// TestReaper: rows of sessions past their expiry and linger are deleted in
// batches (values included); live sessions and lingering tombstones stay.
func TestReaper(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0), sqlstore.WithReapBatch(10))
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		const expired, live = 35, 5
		for range expired {
			r := storetest.Record(100*time.Millisecond, map[string][]byte{"a": []byte("1"), "b": []byte("2")})
			require.NoError(t, st.Create(ctx, storetest.Key(), r))
		}
		var liveKeys []string
		for range live {
			k := storetest.Key()
			liveKeys = append(liveKeys, k)
			require.NoError(t, st.Create(ctx, k, storetest.Record(time.Minute, map[string][]byte{"a": []byte("1")})))
		}
		lingering := storetest.Key()
		r := storetest.Record(time.Minute, nil)
		r.Linger = time.Minute
		require.NoError(t, st.Create(ctx, lingering, r))
		require.NoError(t, st.Delete(ctx, lingering))
		before := countRows(t, db, "session_records")
		time.Sleep(150 * time.Millisecond)

		n, err := st.Reap(ctx)
		require.NoError(t, err)
		assert.EqualValues(t, expired, n, "all expired rows, over four batches of 10")
		assert.Equal(t, before-expired, countRows(t, db, "session_records"))
		for _, k := range liveKeys {
			_, err := st.Load(ctx, k)
			require.NoError(t, err, "a live session was reaped")
		}
		_, err = st.Load(ctx, lingering)
		var tomb *session.Tombstone
		require.ErrorAs(t, err, &tomb, "a tombstone within its linger was reaped")
		var orphans int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM session_values v WHERE NOT EXISTS
 (SELECT 1 FROM session_records r WHERE r.skey = v.skey)`).Scan(&orphans))
		assert.Zero(t, orphans, "values of reaped sessions are deleted")
		n, err = st.Reap(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// TestBackgroundReaper: the reaper runs on its interval and Close stops it
// and the audit writer: no goroutine is left behind.
func TestBackgroundReaper(t *testing.T) {
	db, _ := sqliteFile(t)
	migrate(t, db, sqlstore.SQLite)
	ctx := context.Background()
	runtime.GC()
	base := runtime.NumGoroutine()
	for range 20 {
		st, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithReapInterval(20*time.Millisecond))
		require.NoError(t, err)
		st.Audit(ctx, session.Event{Kind: session.EventLogin, UserID: "g"})
		require.NoError(t, st.Close())
		require.NoError(t, st.Close(), "Close is idempotent")
	}
	st, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithReapInterval(20*time.Millisecond))
	require.NoError(t, err)
	require.NoError(t, st.Create(ctx, storetest.Key(), storetest.Record(50*time.Millisecond, nil)))
	require.Eventually(t, func() bool { return countRows(t, db, "session_records") == 0 }, 5*time.Second, 20*time.Millisecond,
		"the background reaper deletes expired rows")
	require.NoError(t, st.Close())
	// Polled here: Eventually runs the condition in goroutines of its own.
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > base && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if runtime.NumGoroutine() > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines leaked: %d, were %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
	assert.Equal(t, 20, countRows(t, db, "session_audit"), "Close flushed every store's queue")
}

// TestUpdatePurgeTime: an Update that slides the expiry moves the row's
// purge time (indexed) only when the expiry plus linger outgrows it, and
// then a minute beyond, so a busy session's writes leave the row's indexes
// alone; a purge time left late changes nothing a Load reports: the
// tombstone of an expired session ends with its linger, and the row is
// never reaped while live.
func TestUpdatePurgeTime(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		st := newStore(t, db, b.d, sqlstore.WithReapInterval(0))
		purge := func(k string) int64 {
			t.Helper()
			var p int64
			require.NoError(t, db.QueryRow(rebind(b.d, `SELECT purge_ns FROM session_records WHERE skey = ?`), k).Scan(&p))
			return p
		}
		const linger = 2 * time.Second
		k := storetest.Key()
		r := storetest.Record(time.Hour, map[string][]byte{"n": []byte("0")})
		r.Linger = linger
		require.NoError(t, st.Create(ctx, k, r))
		exp := r.Expires
		assert.Equal(t, exp.Add(linger).UnixNano(), purge(k), "created: expiry plus linger")

		slide := func(to time.Time, v string) {
			t.Helper()
			require.NoError(t, st.Update(ctx, k, &session.Delta{LastSeen: time.Now(), Expires: to, Set: map[string][]byte{"n": []byte(v)}}))
		}
		slide(exp.Add(time.Second), "1")
		moved := exp.Add(time.Second + linger + time.Minute).UnixNano()
		assert.Equal(t, moved, purge(k), "outgrown: expiry plus linger plus a minute")
		slide(exp.Add(30*time.Second), "2")
		assert.Equal(t, moved, purge(k), "within the minute: unchanged")
		slide(exp.Add(2*time.Minute), "3")
		assert.Equal(t, exp.Add(2*time.Minute+linger+time.Minute).UnixNano(), purge(k), "outgrown again")
		got, err := st.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, "3", string(got.Values["n"]))

		// The expiry shrinks to now: the purge time stays an hour ahead,
		// the tombstone lasts the linger, then the session is gone.
		slide(time.Now().Add(200*time.Millisecond), "4")
		require.Eventually(t, func() bool {
			_, err := st.Load(ctx, k)
			var tomb *session.Tombstone
			return errors.As(err, &tomb) && tomb.Reason == session.EndExpired
		}, 5*time.Second, 20*time.Millisecond, "expired: a tombstone while it lingers")
		require.Eventually(t, func() bool {
			_, err := st.Load(ctx, k)
			var tomb *session.Tombstone
			return errors.Is(err, session.ErrNotFound) && !errors.As(err, &tomb)
		}, 10*time.Second, 20*time.Millisecond, "after the linger: plain not found, however late the purge time")
	})
}

// TestReaperRacingWrites: sessions kept alive by writes that each slide a
// short expiry (300 ms, no linger) are never reaped, however often the
// reaper runs between and during the writes; the one left alone expires
// and is reaped. A purge time that lagged behind the slid expiry would
// let the reaper delete a live session.
func TestReaperRacingWrites(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		st := newStore(t, db, b.d, sqlstore.WithReapInterval(0))
		const ttl = 300 * time.Millisecond
		keys := make([]string, 4)
		for i := range keys {
			keys[i] = storetest.Key()
			require.NoError(t, st.Create(ctx, keys[i], storetest.Record(ttl, set("n", "0"))))
		}
		idle := storetest.Key()
		require.NoError(t, st.Create(ctx, idle, storetest.Record(ttl, nil)))

		stop := make(chan struct{})
		reaped := make(chan error, 1)
		go func() {
			for {
				select {
				case <-stop:
					reaped <- nil
					return
				default:
				}
				if _, err := st.Reap(ctx); err != nil {
					reaped <- err
					return
				}
			}
		}()
		deadline := time.Now().Add(1500 * time.Millisecond)
		for round := 0; time.Now().Before(deadline); round++ {
			for _, k := range keys {
				now := time.Now()
				err := st.Update(ctx, k, &session.Delta{LastSeen: now, Expires: now.Add(ttl), Set: set("n", fmt.Sprint(round))})
				require.NoError(t, err, "round %d: a session kept alive by writes was lost", round)
			}
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		require.NoError(t, <-reaped)
		for _, k := range keys {
			_, err := st.Load(ctx, k)
			require.NoError(t, err, "a live session was reaped")
		}
		_, err := st.Load(ctx, idle)
		require.ErrorIs(t, err, session.ErrNotFound, "the idle session expired")
		var n int
		require.NoError(t, db.QueryRow(rebind(b.d, `SELECT COUNT(*) FROM session_records WHERE skey = ?`), idle).Scan(&n))
		assert.Zero(t, n, "the idle session's row was reaped")
	})
}
