package drivertest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCorruptHeaderSessionRowIsRejected: a header session's row (a mobile
// app's, or package tokens' refresh family) that the store cannot decode is
// rejected as a cookie session's is: deleted, the client told its token is
// not found, so it logs in again; not a store failure on every refresh
// until the row's expiry.
func TestCorruptHeaderSessionRowIsRejected(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		st := newStore(t, db, b.d)
		a := newApp(t, st, nil, session.Config{})
		iss, err := a.m.Issue(ctx, nil, "corrupt", session.Lifetimes{})
		require.NoError(t, err)
		_, err = db.Exec(rebind(b.d, `UPDATE session_records SET state = 99 WHERE skey = ?`), iss.Handle)
		require.NoError(t, err)
		for i := range 3 {
			_, err := a.m.Rotate(ctx, nil, iss.Token, 0)
			require.ErrorIs(t, err, session.ErrNotFound, "rotation %d after the corruption: %v", i, err)
		}
		assert.False(t, a.events.has(session.EventStoreError))
		var n int
		require.NoError(t, db.QueryRow(rebind(b.d, `SELECT COUNT(*) FROM session_records WHERE skey = ?`), iss.Handle).Scan(&n))
		assert.Zero(t, n, "the corrupt row is gone")
	})
}
