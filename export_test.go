package session

import (
	"time"

	"github.com/sessionkit/session/internal/cookieseal"
	"github.com/sessionkit/session/internal/memstore"
)

// Exports for the external tests (package session_test) of names that are
// not part of the API.

// WithMemoryClockForTest runs a MemoryStore used without a Manager on now
// (a Manager gives its store Config.Clock).
func WithMemoryClockForTest(now func() time.Time) MemoryOption { return memstore.WithClock(now) }

// MemoryRecordsForTest is the number of records s holds, expired ones the
// sweeper has not removed yet included (tombstones are not records).
func MemoryRecordsForTest(s *MemoryStore) int { return memstore.Records(s) }

// RevocationKeyForTest is the key under which a CookieStore's revocation
// list keeps the revocation of userID.
func RevocationKeyForTest(userID string) string { return cookieseal.RevocationKey(userID) }
