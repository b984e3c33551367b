package drivertest

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// the call's error.
func killAndCall(t *testing.T, b backend, db *sql.DB, srv *server, key, text string, call func() error) error {
	t.Helper()
	release := lockRow(t, db, b, srv, key)
	killed := make(chan error, 1)
	go func() {
		err := killBlocked(db, b.d, text)
		if err != nil {
			release() // fail, not hang
		}
		killed <- err
	}()
	err := call()
	require.NoError(t, <-killed)
	release()
	return err
}

// redKilledRotate: the connection of a renewal waiting on the old row's
// lock is killed: the renewal errors with ErrStore, and it landed whole or
// not at all.
func redKilledRotate(t *testing.T, b backend, db *sql.DB, srv *server, st *sqlstore.Store) {
	ctx := context.Background()
	text := "r.state, r.idle_ns" // the locking read in session_rotate_v1
	if b.d == sqlstore.Postgres {
		text = "session_rotate("
	}
	for round := range 4 {
		revoke := round%2 == 1 // RevokeOthers: the user's other session goes too
		user := fmt.Sprintf("kr-%d", round)
		r := redRecord(user, set("a", "1", "b", "2"))
		k, k2, other := storetest.Key(), storetest.Key(), storetest.Key()
		require.NoError(t, st.Create(ctx, k, r))
		require.NoError(t, st.Create(ctx, other, redRecord(user, set("o", "1"))))
		var evicted []session.IndexedRecord
		err := killAndCall(t, b, db, srv, k, text, func() error {
			var err error
			evicted, err = st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: k2, Meta: renewMeta(r), MaxSessions: 3,
				RevokeUser: revoke, Delta: session.Delta{Set: set("c", "3"), Delete: []string{"a"}}})
			return err
		})
		require.Error(t, err, "round %d: a renewal whose connection was killed succeeded", round)
		assert.ErrorIs(t, err, session.ErrStore, "round %d", round)
		assert.Empty(t, evicted)
		old, oerr := loadValues(ctx, st, k)
		renewed, nerr := loadValues(ctx, st, k2)
		othervals, otherr := loadValues(ctx, st, other)
		if oerr == nil {
			assert.Equal(t, set("a", "1", "b", "2"), old, "round %d: the old session changed", round)
			require.ErrorIs(t, nerr, session.ErrNotFound, "round %d: half a renewal: both keys load", round)
			require.NoError(t, otherr, "round %d: half a renewal: the revocation landed without it", round)
			assert.Equal(t, set("o", "1"), othervals)
		} else {
			// The server finished the renewal after the client gave up.
			require.NoError(t, nerr, "round %d: neither key loads", round)
			assert.Equal(t, set("b", "2", "c", "3"), renewed, "round %d", round)
			var ts *session.Tombstone
			require.ErrorAs(t, oerr, &ts)
			assert.Equal(t, k2, ts.Next)
			if revoke {
				require.ErrorIs(t, otherr, session.ErrNotFound, "round %d: the renewal landed without its revocation", round)
			}
		}
	}
	// The pool recovers.
	k := storetest.Key()
	require.NoError(t, st.Create(ctx, k, redRecord("", set("a", "1"))))
	_, err := st.Rotate(ctx, &session.Rotation{OldKey: k, NewKey: storetest.Key(), Meta: redRecord("", nil).Meta})
	require.NoError(t, err)
}

// redKilledDelete: the connection of a logout waiting on the row's lock
// is killed: the logout errors with ErrStore, and the session is either
// whole or a tombstone with no value rows.
func redKilledDelete(t *testing.T, b backend, db *sql.DB, srv *server, st *sqlstore.Store) {
	ctx := context.Background()
	text := "UPDATE session_records SET state" // session_end_v1's UPDATE
	if b.d == sqlstore.Postgres {
		text = "session_end("
	}
	for round := range 3 {
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, redRecord("kd", set("a", "1", "b", "2"))))
		err := killAndCall(t, b, db, srv, k, text, func() error { return st.Delete(ctx, k) })
		require.Error(t, err, "round %d: a logout whose connection was killed succeeded", round)
		assert.ErrorIs(t, err, session.ErrStore, "round %d", round)
		got, err := loadValues(ctx, st, k)
		if err == nil {
			assert.Equal(t, set("a", "1", "b", "2"), got, "round %d: half a logout", round)
		} else {
			require.ErrorIs(t, err, session.ErrNotFound)
			assert.Zero(t, valueRows(t, db, b.d, k), "round %d: half a logout", round)
		}
		require.NoError(t, st.Delete(ctx, k), "the pool recovers")
	}
}

// redKilledCreate: the connection of a Create replacing a record whose row
// is locked is killed: the Create errors with ErrStore and the key holds
// the old record or the new one, whole.
func redKilledCreate(t *testing.T, b backend, db *sql.DB, srv *server, st *sqlstore.Store) {
	ctx := context.Background()
	for round := range 4 {
		k := storetest.Key()
		old := redRecord("kc-old", set("a", "1", "b", "2"))
		require.NoError(t, st.Create(ctx, k, old))
		nw := redRecord("kc-new", set("c", "3"))
		err := killAndCall(t, b, db, srv, k, "INSERT INTO session_records", func() error {
			return st.Create(ctx, k, nw)
		})
		require.Error(t, err, "round %d: a Create whose connection was killed succeeded", round)
		assert.ErrorIs(t, err, session.ErrStore, "round %d", round)
		got, err := st.Load(ctx, k)
		require.NoError(t, err, "round %d", round)
		switch got.UserID {
		case "kc-old":
			assert.Equal(t, old.Values, got.Values, "round %d: the old record half replaced", round)
		case "kc-new":
			assert.Equal(t, nw.Values, got.Values, "round %d: the new record half written", round)
		default:
			t.Fatalf("round %d: user %q", round, got.UserID)
		}
	}
}
