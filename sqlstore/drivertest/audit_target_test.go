package drivertest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuditRecordsRevocationTarget: a revocation's row says who acted (ip,
// user_agent: the request that revoked) and whom it hit (target_ip,
// target_user_agent: the revoked device), read back by AuditEvents.
func TestAuditRecordsRevocationTarget(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0))
		require.NoError(t, err)
		a := newApp(t, st, st, session.Config{})
		phone := a.client(t, "Phone/1.0")
		code, _ := phone.post("/login?u=owner")
		require.Equal(t, 200, code)
		infos, err := a.m.Sessions(ctx, "owner")
		require.NoError(t, err)
		require.Len(t, infos, 1)
		require.NoError(t, a.m.Revoke(ctx, "owner", infos[0].Handle)) // an admin job: no acting request
		require.NoError(t, st.Close())

		evs, err := st.AuditEvents(ctx, "owner", session.EventRevoked, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Len(t, evs, 1)
		assert.Equal(t, "Phone/1.0", evs[0].TargetUserAgent)
		assert.Equal(t, "127.0.0.1", evs[0].TargetIP)
		assert.Empty(t, evs[0].UserAgent, "no request acted")
		logins, err := st.AuditEvents(ctx, "owner", session.EventLogin, time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Len(t, logins, 1)
		assert.Empty(t, logins[0].TargetUserAgent, "a login has no target")
		assert.Equal(t, "Phone/1.0", logins[0].UserAgent)
	})
}

// TestMigrateAddsAuditTargetColumns: a session_audit table created before
// the target columns (rows included) is upgraded by Migrate, twice over
// harmlessly; the old rows read back with empty targets and new rows keep
// theirs.
func TestMigrateAddsAuditTargetColumns(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		_, err := db.Exec(`DROP TABLE session_audit`)
		require.NoError(t, err)
		userType := map[sqlstore.Dialect]string{sqlstore.Postgres: "BYTEA", sqlstore.MySQL: "VARBINARY(255)", sqlstore.SQLite: "TEXT"}[b.d]
		_, err = db.Exec(`CREATE TABLE session_audit (id ` + map[sqlstore.Dialect]string{
			sqlstore.Postgres: "BIGSERIAL PRIMARY KEY", sqlstore.MySQL: "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY", sqlstore.SQLite: "INTEGER PRIMARY KEY",
		}[b.d] + `, at BIGINT NOT NULL, kind VARCHAR(64) NOT NULL, session VARCHAR(64) NOT NULL, user_id ` + userType +
			` NOT NULL, ip VARCHAR(255) NOT NULL, user_agent TEXT NOT NULL, reason TEXT NOT NULL)`)
		require.NoError(t, err)
		var user any = "old"
		if b.d == sqlstore.Postgres {
			user = []byte("old")
		}
		_, err = db.Exec(rebind(b.d, `INSERT INTO session_audit (at, kind, session, user_id, ip, user_agent, reason) VALUES (?, ?, ?, ?, ?, ?, ?)`),
			time.Now().UnixMilli(), session.EventLogin, "s", user, "10.0.0.1", "Old/1.0", "")
		require.NoError(t, err)

		st, err := sqlstore.New(db, b.d, sqlstore.WithReapInterval(0))
		require.NoError(t, err)
		require.NoError(t, st.Migrate(ctx))
		require.NoError(t, st.Migrate(ctx), "Migrate stays idempotent")
		st.Audit(ctx, session.Event{Kind: session.EventRevoked, UserID: "old", TargetIP: "10.0.0.2", TargetUserAgent: "Target/2.0"})
		require.NoError(t, st.Close())

		evs, err := st.AuditEvents(ctx, "old", "", time.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Len(t, evs, 2)
		assert.Equal(t, "Old/1.0", evs[0].UserAgent)
		assert.Empty(t, evs[0].TargetIP)
		assert.Empty(t, evs[0].TargetUserAgent)
		assert.Equal(t, "10.0.0.2", evs[1].TargetIP)
		assert.Equal(t, "Target/2.0", evs[1].TargetUserAgent)
	})
}
