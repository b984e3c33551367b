package storekit

import "time"

// Tombstone reasons (Tombstone.Reason).
const (
	EndExpired   = "expired"   // the record passed Meta.Expires
	EndRotated   = "rotated"   // the ID was renewed (Rotator)
	EndDestroyed = "destroyed" // Store.Delete (logout, Revoke)
	EndRevoked   = "revoked"   // UserIndex.RevokeUser
)

// Tombstone is what a store remembers of a session that ended recently, for
// at least the record's Meta.Linger: why and when it ended, and for an
// expired record the timestamps and limits that tell an idle expiry from an
// absolute one. It holds no values, user, device or token. Load reports it
// as its error, which also matches ErrNotFound:
//
//	var t *session.Tombstone
//	if errors.As(err, &t) { ... }
//
// The Manager uses it to answer an expired session as expired and a
// just-renewed ID (another tab, an in-flight request) as harmless, instead of
// counting both as forged IDs.
type Tombstone struct {
	// Reason is EndExpired, EndRotated, EndDestroyed or EndRevoked.
	Reason string
	// At is when the session ended; for EndExpired, its Meta.Expires.
	At time.Time
	// Meta holds, for EndExpired, the record's CreatedAt, LastSeen,
	// IdleTimeout and AbsoluteTimeout; the rest is zero.
	Meta Meta
	// Next is, for EndRotated, the key the session was renewed to. The
	// Manager follows it once, for a header session's retry within its
	// grace period (see Manager.Rotate), never to resume a session.
	Next string
	// Family is, for EndRotated, the renewed session's Meta.Family: the
	// Manager asks the store for the family's live session (Rotator.Family)
	// instead of walking from one tombstone to the next.
	Family string
}

// Error implements error.
func (t *Tombstone) Error() string { return "session: record " + t.Reason }

// Unwrap makes a Tombstone match ErrNotFound.
func (t *Tombstone) Unwrap() error { return ErrNotFound }

// TombstoneMeta keeps the fields of m a Tombstone may hold.
func TombstoneMeta(m *Meta) Meta {
	return Meta{CreatedAt: m.CreatedAt, LastSeen: m.LastSeen, IdleTimeout: m.IdleTimeout, AbsoluteTimeout: m.AbsoluteTimeout}
}
