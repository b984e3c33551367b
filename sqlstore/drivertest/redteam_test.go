package drivertest

// Red-team tests: each subtest attacks one promise of the SQL store on the
// real servers (PostgreSQL, MariaDB) and on a SQLite file, racing the
// calls for many rounds, killing connections mid-call and feeding odd
// bytes. Run: go test -race -run TestRedTeam -count 1 .

import (
	"bytes"
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redRounds is how many rounds each race runs.
const redRounds = 25

// redRecord is a live record of user holding values, seen now.
func redRecord(user string, values map[string][]byte) *session.Record {
	r := storetest.Record(time.Minute, values)
	r.UserID = user
	r.Linger = time.Minute
	return r
}

// renewMeta is the metadata of a renewal of r, seen a little later.
func renewMeta(r *session.Record) session.Meta {
	m := r.Meta
	m.LastSeen = m.LastSeen.Add(time.Millisecond)
	return m
}

// together runs fns at once and waits for all of them.
func together(fns ...func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, f := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f()
		}()
	}
	close(start)
	wg.Wait()
}

// loadValues returns the values under key, or nil and the error.
func loadValues(ctx context.Context, st *sqlstore.Store, key string) (map[string][]byte, error) {
	r, err := st.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	return r.Values, nil
}

// valueRows counts the session_values rows of key, whatever their record.
func valueRows(t *testing.T, db *sql.DB, d sqlstore.Dialect, key string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(rebind(d, `SELECT COUNT(*) FROM session_values WHERE skey = ?`), key).Scan(&n))
	return n
}

func set(kv ...string) map[string][]byte {
	m := map[string][]byte{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = []byte(kv[i+1])
	}
	return m
}

// TestRedTeam attacks the store's promises on every backend with a
// second connection (PostgreSQL, MariaDB, a SQLite file).
func TestRedTeam(t *testing.T) {
	forSome(t, files, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st := newStore(t, db, b.d)
		t.Run("DistinctNamesAllSurvive", func(t *testing.T) { redDistinctNames(t, st) })
		t.Run("ClearRacingSet", func(t *testing.T) { redClearRacingSet(t, st) })
		t.Run("UpdateRacingRotate", func(t *testing.T) { redUpdateRacingRotate(t, st) })
		t.Run("DeleteRacingWrites", func(t *testing.T) { redDeleteRacingWrites(t, b, db, st) })
		t.Run("DeleteRacingRevoke", func(t *testing.T) {
			redDeleteRacingRevoke(t, st)
		})
		t.Run("ManyNames", func(t *testing.T) { redManyNames(t, st) })
		t.Run("OversizedDevice", func(t *testing.T) { redOversizedDevice(t, b, st) })
		t.Run("RevokeRacingRenewal", func(t *testing.T) { redRevokeRacing(t, b, db, st, false, false) })
		t.Run("RevokeRacingWrites", func(t *testing.T) {
			redRevokeRacing(t, b, db, st, true, false)
		})
		t.Run("RevokedKeepsNoValues", func(t *testing.T) {
			redRevokeRacing(t, b, db, st, true, true)
		})
		t.Run("LogoutRacingRenewAndWrite", func(t *testing.T) { redLogoutThroughManager(t, b, st) })
		t.Run("RotateTwice", func(t *testing.T) { redRotateTwice(t, st) })
		t.Run("RevokeOthersTwice", func(t *testing.T) { redRevokeOthersTwice(t, st) })
		t.Run("CapRenewalsNeverEvict", func(t *testing.T) { redCapRenewals(t, st) })
		t.Run("CapEvict", func(t *testing.T) { redCap(t, st, false) })
		t.Run("CapRefuse", func(t *testing.T) { redCap(t, st, true) })
		t.Run("HostileNames", func(t *testing.T) { redHostileNames(t, b, st) })
		t.Run("HostileDevice", func(t *testing.T) { redHostileDevice(t, b, st) })
		t.Run("EvictedAgentOutsideLatin1", func(t *testing.T) {
			redEvictedAgentUnicode(t, st)
		})
		t.Run("HostileUserIDs", func(t *testing.T) { redHostileUsers(t, st) })
		t.Run("NegativeLinger", func(t *testing.T) { redNegativeLinger(t, st) })
		if srv != nil && (srv.pg != nil || srv.maria != nil) {
			t.Run("KilledRotate", func(t *testing.T) { redKilledRotate(t, b, db, srv, st) })
			t.Run("KilledCreate", func(t *testing.T) { redKilledCreate(t, b, db, srv, st) })
			t.Run("KilledDelete", func(t *testing.T) { redKilledDelete(t, b, db, srv, st) })
		}
	})
}

// sameValues asserts got holds exactly the names and bytes of want.
func sameValues(t *testing.T, want, got map[string][]byte, what string) {
	t.Helper()
	assert.Equal(t, len(want), len(got), what)
	for name, v := range want {
		assert.True(t, bytes.Equal(v, got[name]), "%s: name %q", what, name)
	}
}
