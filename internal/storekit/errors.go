package storekit

import "errors"

// Sentinel errors shared by the Manager and every store; package session
// re-exports each (session.ErrNotFound is ErrNotFound). Compare with
// errors.Is: stores wrap them with detail.
var (
	// ErrNotFound reports that no live record exists under a key: it never
	// existed, it expired, it was deleted, or its user was revoked.
	ErrNotFound = errors.New("session: record not found")
	// ErrStore wraps any failure of the backing store (network, protocol,
	// corrupt data). The middleware turns it into the error handler's response.
	ErrStore = errors.New("session: store failure")
	// ErrCorrupt is wrapped, together with ErrStore, by a store that found
	// a record it cannot decode (a codec change, a partial write, a hand
	// edit) under the key it was asked for.
	ErrCorrupt = errors.New("session: corrupt record")
	// ErrCapacity is returned (wrapped) by a store that refuses a new record
	// because it is full. The Manager reports it as a capacity event.
	ErrCapacity = errors.New("session: store at capacity")
	// ErrTooManySessions is returned (wrapped) by a Rotation whose cap
	// refuses a new session (Rotation.RefuseNew).
	ErrTooManySessions = errors.New("session: too many sessions for this user")
)
