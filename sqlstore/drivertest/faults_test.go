package drivertest

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rebind writes ? placeholders as $n for PostgreSQL.
func rebind(d sqlstore.Dialect, q string) string {
	if d != sqlstore.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// userArg is a user ID as the schema's user_id column takes it.
func userArg(d sqlstore.Dialect, u string) any {
	if d == sqlstore.Postgres {
		return []byte(u)
	}
	return u
}

// sessionKey returns the key of the user's one live session.
func sessionKey(t *testing.T, db *sql.DB, d sqlstore.Dialect, user string) string {
	t.Helper()
	var k string
	err := db.QueryRow(rebind(d, `SELECT skey FROM session_records WHERE user_id = ? AND state = 0`), userArg(d, user)).Scan(&k)
	require.NoError(t, err)
	return k
}

// lockRow holds the row lock of key (SQLite: the database's write lock)
// from another connection until release is called.
func lockRow(t *testing.T, db *sql.DB, b backend, srv *server, key string) (release func()) {
	t.Helper()
	ctx := context.Background()
	if b.d == sqlstore.SQLite {
		other, err := sql.Open("sqlite", srv.path)
		require.NoError(t, err)
		conn, err := other.Conn(ctx)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		require.NoError(t, err)
		return func() {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			conn.Close()
			other.Close()
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	var k string
	require.NoError(t, tx.QueryRow(rebind(b.d, `SELECT skey FROM session_records WHERE skey = ? FOR UPDATE`), key).Scan(&k))
	return func() { _ = tx.Rollback() }
}

// blockedID waits until a statement containing text waits on a lock and
// returns its backend's ID (PostgreSQL pid, MariaDB connection ID).
func blockedID(db *sql.DB, d sqlstore.Dialect, text string) (int64, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var id int64
		var err error
		if d == sqlstore.Postgres {
			err = db.QueryRow(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1 AND pid <> pg_backend_pid()`, "%"+text+"%").Scan(&id)
		} else {
			err = db.QueryRow(`SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()`, "%"+text+"%").Scan(&id)
		}
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return 0, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return 0, errors.New("no blocked statement found")
}

// killBlocked waits until a statement containing text waits on a lock,
// and kills its connection from the server side (pg_terminate_backend,
// KILL).
func killBlocked(db *sql.DB, d sqlstore.Dialect, text string) error {
	id, err := blockedID(db, d, text)
	if err != nil {
		return err
	}
	if d == sqlstore.Postgres {
		_, err = db.Exec(`SELECT pg_terminate_backend($1)`, id)
	} else {
		_, err = db.Exec(`KILL ` + strconv.FormatInt(id, 10))
	}
	return err
}

// TestConnectionKilledMidTransaction: the server ends the store's
// connection while its transaction waits for a row lock. The request gets
// a 5xx, never a 2xx, and the value it tried to write is not there.
func TestConnectionKilledMidTransaction(t *testing.T) {
	forSome(t, servers, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st := newStore(t, db, b.d)
		a := newApp(t, st, nil, session.Config{})
		user := "killed-" + b.name
		c := a.client(t, "ua")
		code, _ := c.post("/login?u=" + user)
		require.Equal(t, 200, code)
		code, _ = c.post("/set?k=a&v=1")
		require.Equal(t, 200, code)
		key := sessionKey(t, db, b.d, user)

		for round := range 3 {
			release := lockRow(t, db, b, srv, key)
			killed := make(chan error, 1)
			go func() {
				err := killBlocked(db, b.d, "UPDATE session_records SET ver")
				if err != nil {
					release() // fail, not hang
				}
				killed <- err
			}()
			code, body := c.post("/set?k=a&v=2")
			require.NoError(t, <-killed)
			release()
			assert.GreaterOrEqual(t, code, 500, "round %d: a write whose connection was killed answered %d %q", round, code, body)
			_, got := c.get("/get?k=a")
			assert.Equal(t, "1", got, "round %d: a failed write must not be half applied", round)
		}
		assert.True(t, a.events.has(session.EventStoreError))
		code, _ = c.post("/set?k=a&v=3")
		require.Equal(t, 200, code, "the pool recovers")
		_, got := c.get("/get?k=a")
		assert.Equal(t, "3", got)
	})
}

// TestServerKilled: with the server gone, requests that need the session
// fail with a 5xx; a logout never answers 2xx.
func TestServerKilled(t *testing.T) {
	forSome(t, servers, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st := newStore(t, db, b.d)
		a := newApp(t, st, nil, session.Config{})
		c := a.client(t, "ua")
		code, _ := c.post("/login?u=gone")
		require.Equal(t, 200, code)
		if srv.pg != nil {
			srv.pg.Kill()
		} else {
			srv.maria.Kill()
		}
		code, _ = c.get("/whoami")
		assert.GreaterOrEqual(t, code, 500)
		code, _ = c.post("/logout")
		assert.GreaterOrEqual(t, code, 500, "a logout that could not delete answered 2xx")
		code, _ = c.post("/login?u=other")
		assert.GreaterOrEqual(t, code, 500)
	})
}

// TestCorruptRow: a row the store did not write is ErrStore, not a panic
// and not a live session.
func TestCorruptRow(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st := newStore(t, db, b.d)
		ctx := context.Background()
		corruptions := []string{
			`UPDATE session_records SET state = 9 WHERE skey = ?`,
			`UPDATE session_records SET gen = -1 WHERE skey = ?`,
			`UPDATE session_records SET linger_ns = -5 WHERE skey = ?`,
		}
		if b.d == sqlstore.SQLite { // no column types to stop these
			corruptions = append(corruptions,
				`UPDATE session_records SET created_ns = 'yesterday' WHERE skey = ?`,
				`UPDATE session_records SET expires_ns = x'00ff' WHERE skey = ?`)
		}
		for _, q := range corruptions {
			k := storetest.Key()
			r := storetest.Record(time.Minute, map[string][]byte{"a": []byte("1")})
			r.UserID = "corrupt"
			require.NoError(t, st.Create(ctx, k, r))
			_, err := db.Exec(rebind(b.d, q), k)
			require.NoError(t, err, q)
			_, err = st.Load(ctx, k)
			assert.ErrorIs(t, err, session.ErrStore, q)
			assert.NotErrorIs(t, err, session.ErrNotFound, q)
			_, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: storetest.Key(), Meta: r.Meta})
			assert.Error(t, err, q)
		}
	})
}

// TestCancelledMidQuery: a context that ends while the store waits for a
// lock ends the call promptly with an error wrapping the context's.
func TestCancelledMidQuery(t *testing.T) {
	forSome(t, files, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st := newStore(t, db, b.d)
		ctx := context.Background()
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, storetest.Record(time.Minute, nil)))
		release := lockRow(t, db, b, srv, k)
		defer release()
		for name, call := range map[string]func(context.Context) error{
			"Update": func(c context.Context) error {
				return st.Update(c, k, &session.Delta{Set: map[string][]byte{"a": []byte("1")}})
			},
			"Delete": func(c context.Context) error { return st.Delete(c, k) },
		} {
			c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			start := time.Now()
			err := call(c)
			took := time.Since(start)
			cancel()
			require.Error(t, err, name)
			assert.True(t, errors.Is(err, context.DeadlineExceeded) || errors.Is(err, session.ErrStore), "%s: %v", name, err)
			assert.Less(t, took, 3*time.Second, "%s: a cancelled call must return promptly", name)
		}
		release()
		// A write the server already started (PostgreSQL's single
		// statements, MySQL's procedures) runs to the end after the call
		// returned: it lands whole or not at all. SQLite's transaction,
		// abandoned by the client, never commits.
		got, err := st.Load(ctx, k)
		if b.d == sqlstore.SQLite {
			require.NoError(t, err, "the cancelled delete never commits")
			assert.Empty(t, got.Values, "the cancelled update wrote nothing")
			return
		}
		if err != nil {
			require.ErrorIs(t, err, session.ErrNotFound, "the cancelled delete landed, whole")
			return
		}
		if len(got.Values) > 0 {
			assert.Equal(t, map[string][]byte{"a": []byte("1")}, got.Values, "the cancelled update landed, whole")
		}
	})
}

// TestSQLiteLockedBeyondBusyTimeout: another process holding SQLite's write
// lock longer than the busy timeout makes a write fail with a 5xx, and
// nothing is half written.
func TestSQLiteLockedBeyondBusyTimeout(t *testing.T) {
	db, path := sqliteFile(t)
	b := backend{name: "SQLiteFile", d: sqlstore.SQLite}
	migrate(t, db, b.d)
	st := newStore(t, db, b.d, sqlstore.WithBusyTimeout(100*time.Millisecond))
	a := newApp(t, st, nil, session.Config{})
	c := a.client(t, "ua")
	code, _ := c.post("/login?u=busy")
	require.Equal(t, 200, code)
	code, _ = c.post("/set?k=a&v=1")
	require.Equal(t, 200, code)
	release := lockRow(t, db, b, &server{path: path}, "")
	code, _ = c.post("/set?k=a&v=2")
	release()
	assert.GreaterOrEqual(t, code, 500)
	_, got := c.get("/get?k=a")
	assert.Equal(t, "1", got)
	assert.True(t, a.events.has(session.EventStoreError))
}

// TestCloseDuringStuckCall: Close returns promptly while a call waits on
// the server (MariaDB: a prepared CALL blocked on a row lock); the call
// still completes, and the store keeps working after Close (unprepared).
func TestCloseDuringStuckCall(t *testing.T) {
	forSome(t, servers, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0))
		require.NoError(t, err)
		ctx := context.Background()
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, storetest.Record(time.Minute, nil)))
		release := lockRow(t, db, b, srv, k)
		defer release()
		done := make(chan error, 1)
		go func() { done <- st.Update(ctx, k, &session.Delta{Set: map[string][]byte{"a": []byte("1")}}) }()
		_, err = blockedID(db, b.d, "UPDATE session_records SET ver")
		require.NoError(t, err, "the update waits on the row lock")
		closed := make(chan error, 1)
		go func() { closed <- st.Close() }()
		select {
		case err := <-closed:
			require.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("Close waited for a call stuck on the server")
		}
		release()
		require.NoError(t, <-done, "the stuck call completes after Close")
		got, err := st.Load(ctx, k)
		require.NoError(t, err, "the store works after Close")
		assert.Equal(t, []byte("1"), got.Values["a"])
	})
}
