package drivertest

import (
	"context"
	"database/sql"
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

// TestMigrateConcurrently: several instances migrating one empty database
// at once all succeed, and migrating again changes nothing.
func TestMigrateConcurrently(t *testing.T) {
	for _, b := range backends {
		if b.name == "SQLiteMemory" {
			continue // one connection: nothing runs concurrently
		}
		t.Run(b.name, func(t *testing.T) {
			db, _ := b.open(t)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0))
					if err != nil {
						errs <- err
						return
					}
					defer st.Close()
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					errs <- st.Migrate(ctx)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			migrate(t, db, b.d) // again
			st := newStore(t, db, b.d)
			k := storetest.Key()
			require.NoError(t, st.Create(context.Background(), k, storetest.Record(time.Minute, nil)))
		})
	}
}

// TestUserIDsAreExact: user IDs differing only in case, trailing spaces or
// Unicode normalization are different users (no collation folds them).
func TestUserIDsAreExact(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st := newStore(t, db, b.d)
		ctx := context.Background()
		users := []string{"alice", "Alice", "alice ", "ålice", "a\u030alice", "alice\x00", "\xffalice"}
		keys := map[string]string{}
		for _, u := range users {
			k := storetest.Key()
			r := storetest.Record(time.Minute, nil)
			r.UserID = u
			require.NoError(t, st.Create(ctx, k, r), "%q", u)
			keys[u] = k
		}
		for _, u := range users {
			got, err := st.UserSessions(ctx, u)
			require.NoError(t, err)
			require.Len(t, got, 1, "%q", u)
			assert.Equal(t, keys[u], got[0].Key, "%q", u)
			assert.Equal(t, u, got[0].Meta.UserID)
		}
		require.NoError(t, st.RevokeUser(ctx, "Alice"))
		for _, u := range users {
			_, err := st.Load(ctx, keys[u])
			if u == "Alice" {
				assert.ErrorIs(t, err, session.ErrNotFound)
			} else {
				assert.NoError(t, err, "revoking %q ended %q", "Alice", u)
			}
		}
	})
}

// TestDumpHoldsNoToken: after a login and a write through a real Manager,
// no table holds the session token: a dump hands out no live session.
func TestDumpHoldsNoToken(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st := newStore(t, db, b.d)
		a := newApp(t, st, st, session.Config{})
		c := a.client(t, "ua")
		code, _ := c.post("/login?u=dumped")
		require.Equal(t, 200, code)
		code, _ = c.post("/set?k=a&v=1")
		require.Equal(t, 200, code)
		var token string
		for _, ck := range c.cookies() {
			if ck.Name == "sid" {
				token = ck.Value
			}
		}
		require.Len(t, token, 43)
		require.NoError(t, st.Close()) // flush the audit queue
		for _, q := range []string{
			`SELECT skey FROM session_records`, `SELECT next_key FROM session_records`,
			`SELECT skey FROM session_values`, `SELECT session FROM session_audit`, `SELECT reason FROM session_audit`,
		} {
			rows, err := db.Query(q)
			require.NoError(t, err)
			n := 0
			for rows.Next() {
				var v string
				require.NoError(t, rows.Scan(&v))
				assert.False(t, strings.Contains(v, token) || (v != "" && strings.Contains(token, v) && len(v) > 8), "%s holds the token", q)
				n++
			}
			require.NoError(t, rows.Err())
			rows.Close()
			if strings.HasPrefix(q, "SELECT skey FROM session_records") {
				assert.Positive(t, n)
			}
		}
	})
}
