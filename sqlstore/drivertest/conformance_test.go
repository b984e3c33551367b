package drivertest

import (
	"database/sql"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
)

// TestConformance runs the public store conformance suite on each backend.
// Its stores share one database, so Fleet (whose RevokeAll reaches every
// session in it) is checked by TestFleet on a database of its own.
func TestConformance(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		storetest.Run(t, func(t *testing.T) session.Store { return withoutFleet(newStore(t, db, b.d)) })
	})
}

// withoutFleet hides the store's Fleet methods.
func withoutFleet(st *sqlstore.Store) session.Store {
	return struct {
		session.Store
		session.UserIndex
		session.Rotator
	}{st, st, st}
}
