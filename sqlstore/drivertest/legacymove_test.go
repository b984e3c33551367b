package drivertest

import (
	"database/sql"
	"testing"

	"github.com/sessionkit/session/internal/legacymovetest"
)

// TestLegacyCookieNameMove: a session the earlier release (cookie
// __Host-sid) stored in a SQL database moves under __Host-Http-sid with a
// new ID on the next page navigation, not on a fetch; the old ID is
// retired, the device is listed once, the move is no new session for
// MaxSessionsPerUser, and the sessions RevokeAll ended do not count against
// it (legacymovetest.Run).
func TestLegacyCookieNameMove(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		legacymovetest.Run(t, newStore(t, db, b.d), "legacy-"+b.name)
	})
}
