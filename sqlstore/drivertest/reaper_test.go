package drivertest

import (
	"context"
	"database/sql"
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
