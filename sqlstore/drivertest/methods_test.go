package drivertest

import (
	"context"
	"database/sql"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMigrateAddsMethods: Migrate upgrades a schema from before the
// methods column (Meta.Methods: the column and the routines that write
// rows) and stays idempotent; rows written before it read as having no
// methods, and renewals after it keep the methods they are given.
func TestMigrateAddsMethods(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		ctx := context.Background()
		old := newStore(t, db, b.d)
		k := storetest.Key()
		r := famRecord("methods-legacy", "", set("a", "1"))
		require.NoError(t, old.Create(ctx, k, r))
		require.NoError(t, old.Close())

		for _, q := range preMethodsSchema(b.d) {
			_, err := db.Exec(q)
			require.NoError(t, err, q)
		}
		migrate(t, db, b.d)
		migrate(t, db, b.d) // idempotent
		if b.d == sqlstore.Postgres {
			var n int
			require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM pg_proc WHERE proname = 'session_rotate'`).Scan(&n))
			assert.Equal(t, 1, n, "the overload from before methods is left")
		}

		st := newStore(t, db, b.d)
		got, err := st.Load(ctx, k)
		require.NoError(t, err, "a record from before the methods column")
		assert.Empty(t, got.Methods)
		m := renewMeta(r)
		m.Family, m.Methods = k, "passkey=1800000000000"
		k2 := storetest.Key()
		_, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: m})
		require.NoError(t, err)
		got, err = st.Load(ctx, k2)
		require.NoError(t, err)
		assert.Equal(t, "passkey=1800000000000", got.Methods)
		k3 := storetest.Key()
		r3 := famRecord("methods-legacy", "", nil)
		r3.Methods = "password=1800000000000"
		require.NoError(t, st.Create(ctx, k3, r3))
		list, err := st.UserSessions(ctx, "methods-legacy")
		require.NoError(t, err)
		byKey := map[string]string{}
		for _, e := range list {
			byKey[e.Key] = e.Meta.Methods
		}
		assert.Equal(t, map[string]string{k2: "passkey=1800000000000", k3: "password=1800000000000"}, byKey)
	})
}

// preMethodsSchema turns the current schema into the one before the
// methods column, with routines of the old signatures.
func preMethodsSchema(d sqlstore.Dialect) []string {
	switch d {
	case sqlstore.Postgres:
		return []string{`ALTER TABLE session_records DROP COLUMN methods`,
			`CREATE FUNCTION session_rotate(p_old text, p_new text, p_user bytea, p_revoke boolean, p_max integer,
  p_refuse boolean, p_now bigint, p_created bigint, p_seen bigint, p_auth bigint, p_ua text, p_ip text, p_expires bigint,
  p_linger bigint, p_clear boolean, p_persist smallint, p_touts boolean, p_tidle bigint, p_tabs bigint, p_tlinger bigint,
  p_del text[], p_names text[], p_vals bytea[], p_family text) RETURNS TABLE (status integer) LANGUAGE sql AS 'SELECT 1'`}
	case sqlstore.MySQL:
		return []string{`ALTER TABLE session_records DROP COLUMN methods`,
			`DROP PROCEDURE session_create_v1`, `CREATE PROCEDURE session_create_v1(p_key VARBINARY(255)) BEGIN END`,
			`DROP PROCEDURE session_rotate_v1`, `CREATE PROCEDURE session_rotate_v1(p_key VARBINARY(255)) BEGIN END`}
	}
	return []string{`ALTER TABLE session_records DROP COLUMN methods`}
}
