package drivertest

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuditTrail: the events of a real Manager reach session_audit, and the
// documented query finds a user's logins.
func TestAuditTrail(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0))
		require.NoError(t, err)
		a := newApp(t, st, st, session.Config{})
		user := "audited-" + b.name
		c := a.client(t, "Mozilla/5.0 audit")
		for range 2 {
			code, _ := c.post("/login?u=" + user)
			require.Equal(t, 200, code)
		}
		code, _ := c.post("/logout")
		require.Equal(t, 200, code)
		forged := a.client(t, "forger")
		forged.hc.Jar.SetCookies(mustURL(a.srv.URL), []*http.Cookie{{Name: "sid", Value: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}})
		forged.get("/whoami")
		require.NoError(t, st.Close(), "Close flushes the queue")

		ctx := context.Background()
		logins, err := st.AuditEvents(ctx, user, session.EventLogin, time.Now().AddDate(0, 0, -90))
		require.NoError(t, err)
		require.Len(t, logins, 2)
		for _, e := range logins {
			assert.Equal(t, user, e.UserID)
			assert.Equal(t, "Mozilla/5.0 audit", e.UserAgent)
			assert.NotEmpty(t, e.Session)
			assert.NotEmpty(t, e.IP)
			assert.WithinDuration(t, time.Now(), e.Time, time.Minute)
		}
		all, err := st.AuditEvents(ctx, user, "", time.Now().Add(-time.Hour))
		require.NoError(t, err)
		assert.Len(t, all, 3, "two logins and a logout: %+v", all)
		assert.Equal(t, session.EventDestroyed, all[2].Kind)

		var rejected int
		require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM session_audit WHERE kind = 'session.rejected'`).Scan(&rejected))
		assert.GreaterOrEqual(t, rejected, 1, "a forged cookie is audited")

		// The documented SQL (see Store.Audit) answers the same question.
		var q string
		switch b.d {
		case sqlstore.Postgres:
			q = `SELECT COUNT(*) FROM session_audit WHERE user_id = convert_to($1, 'UTF8') AND kind = 'session.login'
  AND at >= (extract(epoch FROM now() - interval '90 days') * 1000)::bigint`
		case sqlstore.MySQL:
			q = `SELECT COUNT(*) FROM session_audit WHERE user_id = ? AND kind = 'session.login'
  AND at >= (UNIX_TIMESTAMP() - 90 * 86400) * 1000`
		default:
			q = `SELECT COUNT(*) FROM session_audit WHERE user_id = ? AND kind = 'session.login'
  AND at >= (unixepoch() - 90 * 86400) * 1000`
		}
		var n int
		require.NoError(t, db.QueryRow(q, user).Scan(&n))
		assert.Equal(t, 2, n)
		assert.Zero(t, st.AuditDropped())
	})
}

// blockAudit stops inserts into session_audit from other connections until
// release is called.
func blockAudit(t *testing.T, db *sql.DB, b backend, srv *server) (release func()) {
	t.Helper()
	ctx := context.Background()
	switch b.d {
	case sqlstore.Postgres:
		tx, err := db.BeginTx(ctx, nil)
		require.NoError(t, err)
		_, err = tx.Exec(`LOCK TABLE session_audit IN ACCESS EXCLUSIVE MODE`)
		require.NoError(t, err)
		return func() { _ = tx.Rollback() }
	case sqlstore.MySQL:
		conn, err := db.Conn(ctx)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, `LOCK TABLES session_audit WRITE`)
		require.NoError(t, err)
		return func() {
			_, _ = conn.ExecContext(ctx, `UNLOCK TABLES`)
			conn.Close()
		}
	}
	return lockRow(t, db, b, srv, "")
}

// TestAuditOverflow: with the writer stuck, a flood of events fills the
// bounded queue; the rest are dropped and counted, Audit never blocks, and
// everything queued is written once the table is free.
func TestAuditOverflow(t *testing.T) {
	forSome(t, files, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0), sqlstore.WithAuditQueue(8))
		require.NoError(t, err)
		release := blockAudit(t, db, b, srv)
		const n = 500
		user := "flood-" + b.name
		start := time.Now()
		for range n {
			st.Audit(context.Background(), session.Event{Kind: session.EventRejected, UserID: user, Reason: "unknown"})
		}
		assert.Less(t, time.Since(start), time.Second, "Audit must not block on the database")
		dropped := st.AuditDropped()
		assert.GreaterOrEqual(t, dropped, uint64(n-8-256), "a full queue drops")
		release()
		require.NoError(t, st.Close())
		var written int
		require.NoError(t, db.QueryRow(rebind(b.d, `SELECT COUNT(*) FROM session_audit WHERE user_id = ?`), userArg(b.d, user)).Scan(&written))
		assert.Equal(t, uint64(n), uint64(written)+st.AuditDropped(), "every event is written or counted")
		assert.Positive(t, written)
	})
}

// TestAuditRetention: the reaper deletes audit rows past the retention, in
// batches, and keeps the others.
func TestAuditRetention(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0), sqlstore.WithReapBatch(7),
			sqlstore.WithAuditRetention(90*24*time.Hour))
		require.NoError(t, err)
		user := "retained-" + b.name
		old := time.Now().AddDate(0, 0, -100)
		for i := range 30 {
			at := time.Now()
			if i < 23 {
				at = old
			}
			st.Audit(context.Background(), session.Event{Kind: session.EventLogin, UserID: user, Time: at})
		}
		require.NoError(t, st.Close())
		n, err := st.Reap(context.Background())
		require.NoError(t, err)
		assert.EqualValues(t, 23, n)
		got, err := st.AuditEvents(context.Background(), user, "", time.Time{})
		require.NoError(t, err)
		assert.Len(t, got, 7)
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// TestAuditLongUserIDs (issue 23, finding 11): a 300-byte user ID and
// another user whose ID is its first 255 bytes. Every user ID the store
// accepts is audited whole, so neither user's events are lost or shown to
// the other: on PostgreSQL and SQLite both log in and each sees exactly
// its own events; on MySQL, whose schema holds 255 bytes, the long ID's
// login fails with ErrTooLong (an error, never a 2xx), and an event
// carrying it from elsewhere is never attributed to the prefix user.
func TestAuditLongUserIDs(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0))
		require.NoError(t, err)
		long := make([]byte, 300)
		for i := range long {
			long[i] = 'a' + byte(i%26)
		}
		longID, prefix := string(long), string(long[:255])
		ctx := context.Background()
		a := newApp(t, st, st, session.Config{})

		lc := a.client(t, "long")
		lcode, lbody := lc.post("/login?u=" + longID)
		pc := a.client(t, "prefix")
		code, body := pc.post("/login?u=" + prefix)
		require.Equal(t, 200, code, body)
		if b.d == sqlstore.MySQL {
			assert.NotEqual(t, 200, lcode, "a login the store cannot hold succeeded")
			assert.Contains(t, lbody, "longer than the schema holds")
			_, who := lc.get("/whoami")
			assert.Empty(t, who)
			r := storetest.Record(time.Minute, nil)
			r.UserID = longID
			err := st.Create(ctx, storetest.Key(), r)
			assert.ErrorIs(t, err, sqlstore.ErrTooLong)
			assert.ErrorIs(t, err, session.ErrStore)
			_, err = st.Rotate(ctx, &session.Rotation{NewKey: storetest.Key(), Meta: r.Meta, MaxSessions: 3})
			assert.ErrorIs(t, err, sqlstore.ErrTooLong)
			// An event of the long ID from sessions kept elsewhere.
			st.Audit(ctx, session.Event{Kind: session.EventLogin, UserID: longID, Reason: "elsewhere"})
		} else {
			require.Equal(t, 200, lcode, lbody)
			_, who := lc.get("/whoami")
			assert.Equal(t, longID, who)
		}
		require.NoError(t, st.Close(), "Close flushes the queue")

		mine, err := st.AuditEvents(ctx, prefix, "", time.Time{})
		require.NoError(t, err)
		require.Len(t, mine, 1, "the prefix user sees another user's events: %d events", len(mine))
		assert.Equal(t, session.EventLogin, mine[0].Kind)
		assert.Equal(t, prefix, mine[0].UserID)
		assert.Equal(t, "prefix", mine[0].UserAgent)

		theirs, err := st.AuditEvents(ctx, longID, "", time.Time{})
		require.NoError(t, err)
		if b.d == sqlstore.MySQL {
			assert.Empty(t, theirs)
			var reason string
			require.NoError(t, db.QueryRow(`SELECT reason FROM session_audit WHERE user_id = '' AND kind = ?`, session.EventLogin).Scan(&reason))
			assert.Equal(t, "user_id_too_long: elsewhere", reason, "the event is kept, attributed to no one")
			return
		}
		require.Len(t, theirs, 1, "the long ID's events are lost")
		assert.Equal(t, longID, theirs[0].UserID)
		assert.Equal(t, "long", theirs[0].UserAgent)
	})
}
