package session

import (
	"context"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// Store persists session records. It knows nothing of HTTP, cookies or tokens:
// every key it sees is a hash of a session token (SHA-256, base64url), never a
// token, so a dump of the store hands out no live session.
//
// A Store must be safe for concurrent use. Implementations are expected to:
//
//   - honour ctx: a cancelled or expired context ends the call with an error
//     that wraps ctx.Err();
//   - discard records once Meta.Expires has passed (Load then reports
//     ErrNotFound), ideally with a native TTL;
//   - apply Update atomically and only to a record that still exists, so that
//     concurrent requests changing distinct keys of one session all survive and
//     a destroyed session is never resurrected.
//
// Package storetest checks all of this; run storetest.Run against a new store.
type Store interface {
	// Load returns the record stored under key, or an error wrapping
	// ErrNotFound when there is none (or it has expired).
	Load(ctx context.Context, key string) (*Record, error)
	// Create stores a new record under key, replacing anything there. The
	// store must not keep a reference to r or its maps after returning.
	Create(ctx context.Context, key string, r *Record) error
	// Update merges d into the record under key. It returns an error wrapping
	// ErrNotFound, and writes nothing, when no live record exists. The store
	// must not keep a reference to d or its maps after returning.
	Update(ctx context.Context, key string, d *Delta) error
	// Delete removes the record under key. Deleting a missing key is not an
	// error.
	Delete(ctx context.Context, key string) error
}

// UserIndex is implemented by stores that keep a per-user index of sessions,
// which "your devices", log-out-everywhere and the per-user cap need. The
// memory and Redis stores implement it.
//
// A store implementing UserIndex adds a record to its user's index in Create
// (when Meta.UserID is set) and stamps Meta.Generation with the user's current
// generation. Load and Update treat a record whose generation is older than
// its user's as not found, so RevokeUser takes effect at once even for a
// session the index missed.
type UserIndex interface {
	// UserSessions returns the user's live sessions, pruning index entries
	// whose records are gone.
	UserSessions(ctx context.Context, userID string) ([]IndexedRecord, error)
	// RevokeUser bumps the user's generation and deletes every indexed
	// session. Sessions created afterwards are unaffected.
	RevokeUser(ctx context.Context, userID string) error
}

// Fleet is implemented by stores that act on every session at once, for
// [Manager.RevokeAll] and [Manager.CountSessions]. The memory and Redis
// stores implement it.
type Fleet interface {
	// RevokeAll ends every session created before cutoff (Meta.CreatedAt,
	// which a renewal keeps), anonymous ones included, in O(1): from then
	// on Load reports each such record as a Tombstone with EndRevoked,
	// whatever Update does to it. A later call with an earlier cutoff
	// changes nothing.
	RevokeAll(ctx context.Context, cutoff time.Time) error
	// Count returns the number of live sessions; sessions ended by
	// RevokeAll may be counted until they expire. It may walk every record
	// (O(n)): for an admin page, not a request. A store that cannot count
	// in its current setup returns an error wrapping errors.ErrUnsupported.
	Count(ctx context.Context) (int, error)
}

// Rotator is implemented by stores that renew a session ID in one atomic
// step (see Rotation) and end a session's family in one: Login, Renew,
// Reauthenticate and RevokeOthers rotate, so that a logout or a "log out
// everywhere" landing at any moment of a renewal wins, and the per-user cap
// holds under concurrent logins; a logout, a revocation of one device and a
// reused refresh token end the family, so that whatever renewals raced
// them, no later ID of the session survives. The memory, Redis, SQL and
// Memcached stores implement it, and storetest.Run checks it.
//
// A family (Meta.Family) has at most one live record: each renewal of the
// same user retires the old key. A store finds it in O(1) (an index from
// family to live key, kept as long as the family can live, or a column),
// never by walking renewal tombstones. Losing that index (eviction, a
// flush) may end the family's session, never keep it reachable by its
// keys but not by its family: a store that cannot guarantee this refuses
// Rotate with an error wrapping errors.ErrUnsupported.
//
// With a store that lacks it, the Manager renews with separate Load, Create
// and Delete calls, which a concurrent logout can undo, ends only the key
// it was given, and New refuses Config.MaxSessionsPerUser.
type Rotator interface {
	// Rotate performs rot atomically and returns the sessions it evicted
	// for the cap. It returns an error wrapping ErrNotFound when rot.OldKey
	// names no live, current record, and ErrTooManySessions when the cap
	// refuses; in both cases it writes nothing (but the revocation of
	// Rotation.RevokeUser).
	Rotate(ctx context.Context, rot *Rotation) (evicted []IndexedRecord, err error)
	// Family returns the key and record of the live session of family
	// (its Meta.Family, or its key when that is ""), or an error wrapping
	// ErrNotFound when the family has none (never existed, ended, expired,
	// revoked).
	Family(ctx context.Context, family string) (key string, r *Record, err error)
	// EndFamily ends the live session of family as Delete would (an
	// EndDestroyed Tombstone) and returns its key and metadata, or an
	// error wrapping ErrNotFound, writing nothing, when the family has
	// none. It is atomic with Rotate: a renewal of the family racing it
	// either is ended by it or fails with ErrNotFound. After it, the
	// family never gets a live record again.
	EndFamily(ctx context.Context, family string) (*IndexedRecord, error)
}

// The records a Store keeps. Each is defined in an internal package shared
// with the store engines and documented there field by field; `go doc` on
// the internal name (for example
// `go doc github.com/sessionkit/session/internal/storekit.Meta`) shows it.
type (
	// Meta is the part of a record the Manager owns: who the session
	// belongs to, its timestamps, limits, device details and family.
	Meta = storekit.Meta
	// Record is what a Store keeps under one key: Meta and the encoded
	// values.
	Record = storekit.Record
	// Delta is one request's change to a record: only what this request
	// did, merged per key by the store (Store.Update).
	Delta = storekit.Delta
	// Timeouts are a session's own limits (Session.SetTimeouts) and how long
	// its tombstone lingers, as a Delta carries them.
	Timeouts = storekit.Timeouts
	// Tombstone is what a store remembers of a session that ended recently
	// (why and when), reported by Load as its error; it matches
	// ErrNotFound.
	Tombstone = storekit.Tombstone
	// IndexedRecord is one entry of UserIndex.UserSessions and the result
	// of Rotator.EndFamily.
	IndexedRecord = storekit.IndexedRecord
	// Rotation is one renewal of a session ID, performed by Rotator.Rotate
	// in one atomic step; its documentation lists the five steps.
	Rotation = storekit.Rotation
)

// Tombstone reasons (Tombstone.Reason).
const (
	EndExpired   = storekit.EndExpired   // the record passed Meta.Expires
	EndRotated   = storekit.EndRotated   // the ID was renewed (Rotator)
	EndDestroyed = storekit.EndDestroyed // Store.Delete (logout, Revoke)
	EndRevoked   = storekit.EndRevoked   // UserIndex.RevokeUser
)

// Refresher is implemented by stores that renew a header session in one
// atomic step taking the metadata from the old record, so that
// [Manager.Rotate] costs one round trip: the Redis store on a single server
// or Sentinel. Without it Rotate loads the record, then rotates it (see
// [Rotator]).
type Refresher interface {
	// Refresh checks that oldKey names a live record whose generation is
	// current, and fails with ErrNotFound otherwise (carrying its
	// Tombstone, if kept), writing nothing. Then, as one step, it stores
	// under newKey a copy of that record (values, metadata, generation,
	// own limits) whose LastSeen is at and whose Expires is the earlier of
	// at+IdleTimeout and CreatedAt+AbsoluteTimeout, indexes it under its
	// user in place of oldKey, and replaces oldKey by an EndRotated
	// Tombstone dated at whose Next is newKey, kept for the record's
	// Linger. It returns the new record's metadata. A record without its
	// own idle and absolute limits is ErrNotFound. A store that cannot do
	// it in its current setup (a Redis Cluster) returns an error wrapping
	// errors.ErrUnsupported and writes nothing.
	Refresh(ctx context.Context, oldKey, newKey string, at time.Time) (*Meta, error)
}

// ExpiryNotifier is implemented by stores that can see a session end by
// expiry when no request comes back for it: the [MemoryStore] (its
// sweeper), the SQL store (its reaper) and the [RedisStore] with
// [WithExpiryNotifications]. [New] registers a callback on the store (or
// on the first store its Unwrap() Store chain reaches that implements
// it), which reports each such session as an [EventExpiredIdle] or
// [EventExpiredAbsolute] event with Reason "expired" (see [Event]).
// The Memcached store and the [CookieStore] cannot observe expiry and do
// not implement it.
type ExpiryNotifier interface {
	// NotifyExpired makes the store call fn, from a goroutine of its own,
	// once for each record it drops because its expiry passed: not for a
	// record ended by Delete, a renewal or a revocation, nor for one
	// whose Expires a later write moved. IndexedRecord.Meta carries what
	// the store still knows (at least Expires; CreatedAt, LastSeen and
	// the own limits when kept; UserID and the device when kept). A later
	// call replaces fn; nil stops the calls. The store stops calling fn
	// once it is closed.
	NotifyExpired(fn func(ctx context.Context, r IndexedRecord))
}

// endingCreator is a store with a durable path for the writes that end
// sessions ([RedisStore]: with [WithDurability] it waits for its replicas).
// A revocation of a [CookieStore]'s revocation list takes it
// (cookiemode.go, the revocation list): one that a failover could undo must not be reported as
// done.
type endingCreator interface {
	// CreateEnding is Create of a record without a user or a family,
	// through the store's durable path (WithDurability).
	CreateEnding(ctx context.Context, key string, r *Record) error
}

// findStore returns st, or the first store its Unwrap() Store chain reaches
// (the wrappers of [SealValues], otelsession and users), that implements T:
// how the Manager finds a wrapped store's optional interfaces and engine.
func findStore[T any](st Store) (T, bool) {
	for range 16 { // a wrapper chain longer than this is a cycle
		if v, ok := st.(T); ok {
			return v, true
		}
		u, ok := st.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		st = u.Unwrap()
	}
	var zero T
	return zero, false
}
