package drivertest

import (
	"database/sql"
	"testing"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A session row the store cannot have written (an impossible state) is
// rejected with reason "corrupt": the row is deleted and the browser starts
// afresh, never a 5xx loop.
func TestCorruptRowIsRejected(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st := newStore(t, db, b.d)
		a := newApp(t, st, nil, session.Config{})
		c := a.client(t, "CorruptUA")
		code, _ := c.post("/login?u=corrupt")
		require.Equal(t, 200, code)
		key := sessionKey(t, db, b.d, "corrupt")
		_, err := db.Exec(rebind(b.d, `UPDATE session_records SET state = 99 WHERE skey = ?`), key)
		require.NoError(t, err)
		for i := 0; i < 3; i++ {
			code, body := c.get("/whoami")
			require.Equal(t, 200, code, "request %d after the corruption", i)
			assert.Empty(t, body)
		}
		assert.True(t, a.events.has(session.EventRejected))
		assert.False(t, a.events.has(session.EventStoreError))
		var n int
		require.NoError(t, db.QueryRow(rebind(b.d, `SELECT COUNT(*) FROM session_records WHERE skey = ?`), key).Scan(&n))
		assert.Zero(t, n, "the corrupt row is gone")
		code, _ = c.post("/set?k=a&v=1")
		require.Equal(t, 200, code)
		_, body := c.get("/get?k=a")
		assert.Equal(t, "1", body)
	})
}
