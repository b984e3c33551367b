package session

import "time"

// Exports for the external tests (package session_test) of names that are
// not part of the API.

// WithMemoryClockForTest runs a MemoryStore used without a Manager on now
// (a Manager gives its store Config.Clock).
func WithMemoryClockForTest(now func() time.Time) MemoryOption { return withMemoryClock(now) }

// RevocationKeyForTest is the key under which a CookieStore's revocation
// list keeps the revocation of userID.
func RevocationKeyForTest(userID string) string { return revocationKey(userID) }
