package drivertest

import (
	"database/sql"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/storetest"
)

// TestConformance runs the public store conformance suite on each backend.
func TestConformance(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		storetest.Run(t, func(t *testing.T) session.Store { return newStore(t, db, b.d) })
	})
}
