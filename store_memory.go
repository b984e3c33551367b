package session

import (
	"time"

	"github.com/sessionkit/session/internal/memstore"
)

// MemoryStore is the in-memory [Store] for one process, built with
// [NewMemoryStore]: sharded, safe for concurrent use, with expired records
// removed in the background by a sweeper ([WithSweepInterval]) and the
// number of entries bounded ([WithMaxRecords]). It also implements
// [UserIndex], [Rotator] (renewal and the per-user cap under the user's
// lock), [Fleet] and [ExpiryNotifier] (its sweeper reports the sessions it
// drops for expiry), keeps a [Tombstone] of each ended record for its
// Linger, and answers Ping while it is open. Records are lost when the
// process exits; use the Redis store to share sessions between processes or
// survive restarts.
//
// A Manager built on a MemoryStore, directly or behind wrappers with an
// Unwrap() Store method ([SealValues], otelsession.WrapStore), runs it on
// its Config.Clock. Errors are prefixed "memory store: " and wrap
// [ErrNotFound] (or a [Tombstone]) or [ErrCapacity]. The engine is in
// package internal/memstore.
type MemoryStore = memstore.Store

// MemoryOption configures a [MemoryStore]; see [WithSweepInterval] and
// [WithMaxRecords].
type MemoryOption = memstore.Option

// NewMemoryStore returns an empty in-memory store and starts its sweeper.
// Call Close to stop the sweeper.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore { return memstore.New(opts...) }

// WithSweepInterval sets how often the background sweeper removes expired
// records (default one minute; zero or negative disables the sweeper,
// expired records are then only hidden, and removed when touched).
func WithSweepInterval(d time.Duration) MemoryOption { return memstore.WithSweepInterval(d) }

// WithMaxRecords bounds the number of entries (records and tombstones) the
// store holds, so that clients cannot grow it without bound. Past 90% of
// the bound, new anonymous records are refused (Create fails with
// [ErrCapacity], which the Manager reports as [EventCapacity] and answers
// with its error handler) and ended records leave no tombstone; logins
// (Rotate) go on until the bound itself. A logged-in session is never
// evicted to make room. The default is sized for the machine: a record of a
// few hundred bytes, in an eighth of GOMEMLIMIT or, without one, of the
// physical memory (Linux), else one million. n <= 0 keeps the default.
func WithMaxRecords(n int) MemoryOption { return memstore.WithMaxRecords(n) }

// shareClock gives now to the MemoryStore st is or wraps (through Unwrap()
// Store methods, as SealValues' and otelsession's wrappers have), so the
// Manager and its memory store share one clock.
func shareClock(st Store, now func() time.Time) {
	if ms, ok := findStore[*MemoryStore](st); ok {
		memstore.UseClock(ms, now)
	}
}

// Compile-time checks of the memory store.
var (
	_ UserIndex = (*MemoryStore)(nil)
	_ Rotator   = (*MemoryStore)(nil)
	_ Fleet     = (*MemoryStore)(nil)

	_ ExpiryNotifier = (*MemoryStore)(nil)
)
