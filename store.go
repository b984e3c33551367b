package session

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Sentinel errors shared by the Manager and every Store. Compare with errors.Is:
// stores wrap them with detail.
var (
	// ErrNotFound reports that no live record exists under a key: it never
	// existed, it expired, it was deleted, or its user was revoked.
	ErrNotFound = errors.New("session: record not found")
	// ErrStore wraps any failure of the backing store (network, protocol,
	// corrupt data). The middleware turns it into the error handler's response.
	ErrStore = errors.New("session: store failure")
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

// Meta is the part of a record the Manager owns: who the session belongs to,
// its timestamps and its device details. Values are in Record.Values.
type Meta struct {
	// UserID is the authenticated user, or "" for an anonymous session.
	UserID string
	// Generation is the user's revocation generation when the session was
	// created. Stores implementing UserIndex stamp it in Create and treat a
	// record whose generation is older than the user's as not found.
	Generation uint64
	// CreatedAt is when this session (this ID) was first stored. Login and
	// Renew keep it across ID changes; the absolute timeout counts from it.
	CreatedAt time.Time
	// LastSeen is the last throttled touch; the idle timeout counts from it.
	LastSeen time.Time
	// AuthenticatedAt is the time of the last Login or Reauthenticate.
	AuthenticatedAt time.Time
	// UserAgent and IP describe the device at login, for "your devices".
	UserAgent string
	IP        string
	// IdleTimeout and AbsoluteTimeout, when non-zero, are this session's own
	// limits; a cookie session never outlives the Manager's, a header
	// session (Manager.Issue) lives by its own, which may be longer.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// Persist asks for a persistent (Max-Age) cookie ("remember me").
	Persist bool
	// Linger is how long, past its end (expiry, renewal, deletion), the
	// store keeps a Tombstone of the record. The Manager sets it to the
	// session's idle timeout (and at least the rotation grace period).
	Linger time.Duration
	// Expires is the earlier of the idle and absolute deadlines: the store's
	// TTL. A store may discard the record once it has passed.
	Expires time.Time
	// Family is the session's family identity: set by the Manager when a
	// session starts (its first key, or for a header session a hash of the
	// family part of its token) and kept by every renewal of the same user,
	// so that one store step ends the session whatever ID it was renewed
	// to (see Rotator). "" means the record's own key. It is an opaque
	// string of at most 64 bytes.
	Family string
}

// Record is what a Store keeps under one key.
type Record struct {
	Meta
	// Values maps each session key to its encoded value (see Codec).
	Values map[string][]byte
}

// Clone returns a deep copy of r, so a store can keep or hand out a record
// without sharing maps with its caller.
func (r *Record) Clone() *Record {
	c := &Record{Meta: r.Meta}
	if r.Values != nil {
		c.Values = make(map[string][]byte, len(r.Values))
		for k, v := range r.Values {
			c.Values[k] = append([]byte(nil), v...)
		}
	}
	return c
}

// Delta is one request's change to a record: only what this request did, so
// that a store merging it leaves other requests' changes intact. Values merge
// per key; the metadata a request may change is split into fields that are
// written only when that request changed them, so a concurrent request can
// never put an older setting back.
type Delta struct {
	// Clear removes every value before Set is applied (Session.Clear).
	Clear bool
	// Set holds the values this request wrote.
	Set map[string][]byte
	// Delete lists the values this request removed.
	Delete []string
	// LastSeen, when non-zero, is the new last-seen time (the throttled
	// touch).
	LastSeen time.Time
	// Expires, when non-zero, is the record's new expiry: the store's TTL.
	// A time already past deletes the record.
	Expires time.Time
	// Persist, when non-nil, sets Meta.Persist (Session.SetPersist).
	Persist *bool
	// Timeouts, when non-nil, sets Meta.IdleTimeout, Meta.AbsoluteTimeout
	// and Meta.Linger (Session.SetTimeouts).
	Timeouts *Timeouts
}

// Timeouts are a session's own limits, as set by Session.SetTimeouts, and
// how long its tombstone lingers (see Meta.Linger).
type Timeouts struct {
	Idle, Absolute, Linger time.Duration
}

// Empty reports whether d changes nothing.
func (d *Delta) Empty() bool {
	return !d.Clear && len(d.Set) == 0 && len(d.Delete) == 0 && d.LastSeen.IsZero() &&
		d.Expires.IsZero() && d.Persist == nil && d.Timeouts == nil
}

// Apply merges d into r in place. Stores that hold records as Go values (such
// as the memory store) use it under their lock; others apply the same rules
// natively. The generation, user and device never change through a Delta:
// those change only by renewal (see Rotator).
func (d *Delta) Apply(r *Record) { d.apply(r, true) }

// apply is Apply; without copyValues, r takes d's value slices as they are
// (for a caller that drops d afterwards).
func (d *Delta) apply(r *Record, copyValues bool) {
	if d.Clear {
		clear(r.Values)
	}
	for _, k := range d.Delete {
		delete(r.Values, k)
	}
	if len(d.Set) > 0 {
		if r.Values == nil {
			r.Values = make(map[string][]byte, len(d.Set))
		}
		for k, v := range d.Set {
			if copyValues {
				v = append([]byte(nil), v...)
			}
			r.Values[k] = v
		}
	}
	d.applyMeta(&r.Meta)
}

// applyMeta sets the metadata fields d carries (LastSeen, Expires, Persist,
// Timeouts) in m and leaves the others: Apply, and a store that keeps
// values apart from the metadata (the memory store).
func (d *Delta) applyMeta(m *Meta) {
	if !d.LastSeen.IsZero() {
		m.LastSeen = d.LastSeen
	}
	if !d.Expires.IsZero() {
		m.Expires = d.Expires
	}
	if d.Persist != nil {
		m.Persist = *d.Persist
	}
	if t := d.Timeouts; t != nil {
		m.IdleTimeout, m.AbsoluteTimeout, m.Linger = t.Idle, t.Absolute, t.Linger
	}
}

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

// tombstoneMeta keeps the fields of m a Tombstone may hold.
func tombstoneMeta(m *Meta) Meta {
	return Meta{CreatedAt: m.CreatedAt, LastSeen: m.LastSeen, IdleTimeout: m.IdleTimeout, AbsoluteTimeout: m.AbsoluteTimeout}
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

// IndexedRecord is one entry returned by UserIndex.UserSessions.
type IndexedRecord struct {
	Key  string
	Meta Meta
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

// Rotation is one renewal of a session ID. As one atomic step, the store:
//
//  1. when OldKey is set, checks that it names a live record whose
//     generation is current (not expired, deleted or revoked), and fails
//     with ErrNotFound otherwise;
//  2. when RevokeUser is set, ends every session of Meta.UserID as
//     UserIndex.RevokeUser does (even when step 1 failed: the revocation
//     comes first);
//  3. when MaxSessions > 0, counts the live sessions of Meta.UserID other
//     than OldKey; at MaxSessions or more it fails with ErrTooManySessions
//     if RefuseNew is set, and otherwise deletes the least recently seen
//     ones until one place is free;
//  4. stores under NewKey a record whose metadata is Meta, except that the
//     per-session settings (IdleTimeout, AbsoluteTimeout, Persist, Linger)
//     are the old record's with Delta's applied, and whose values are the
//     old record's (none when OldKey is "") with Delta applied. Its
//     generation is the old record's when the user is unchanged, and the
//     user's current generation otherwise; it is indexed under its user;
//     its family is Meta.Family (NewKey when ""), which becomes the
//     family's live key (see Rotator.Family);
//  5. replaces OldKey by an EndRotated Tombstone dated Meta.LastSeen whose
//     Next is NewKey and whose Family is Meta.Family, kept for the old
//     record's Linger.
//
// The Manager sets Meta.Family to the old record's family when the user is
// unchanged and to a new one (NewKey) otherwise.
type Rotation struct {
	// OldKey is the record being renewed; "" for a session never stored.
	OldKey string
	// NewKey is the key of the renewed record.
	NewKey string
	// Meta is the renewed record's metadata (see step 4).
	Meta Meta
	// Delta is this request's pending changes, applied on top of the old
	// record (the Manager sets Clear when another user logs in).
	Delta Delta
	// RevokeUser ends every other session of Meta.UserID first
	// (Session.RevokeOthers).
	RevokeUser bool
	// MaxSessions caps the live sessions of Meta.UserID (0: no cap).
	MaxSessions int
	// RefuseNew makes the cap refuse the new session rather than evict.
	RefuseNew bool
}

// Victims applies step 3 to the live sessions of Meta.UserID (OldKey
// among them or not), for stores that list them before ending some: it
// returns the least recently seen ones to end so the new one fits, or an
// error wrapping ErrTooManySessions when RefuseNew. It reorders live. Every
// Rotator uses this one rule, so the cap evicts the same sessions on every
// store.
func (rot *Rotation) Victims(live []IndexedRecord) ([]IndexedRecord, error) {
	live = slices.DeleteFunc(live, func(r IndexedRecord) bool { return r.Key == rot.OldKey })
	n := len(live) - rot.MaxSessions + 1
	if rot.MaxSessions <= 0 || n <= 0 {
		return nil, nil
	}
	if rot.RefuseNew {
		return nil, ErrTooManySessions
	}
	slices.SortFunc(live, func(a, b IndexedRecord) int { return a.Meta.LastSeen.Compare(b.Meta.LastSeen) })
	return live[:n], nil
}

// NewRecord computes the record Rotate stores under NewKey from the old
// record (nil when there is none): the rules of step 4, for stores that
// hold or decode records as Go values. The generation is the old record's
// when the user is unchanged and 0 otherwise: the store sets the user's
// current one. old is not modified.
func (rot *Rotation) NewRecord(old *Record) *Record {
	r := &Record{Meta: rot.Meta}
	r.Generation = 0
	if old != nil {
		r.IdleTimeout, r.AbsoluteTimeout, r.Persist, r.Linger = old.IdleTimeout, old.AbsoluteTimeout, old.Persist, old.Linger
		if old.UserID == r.UserID {
			r.Generation = old.Generation
		}
		r.Values = old.Clone().Values
	} else {
		r.IdleTimeout, r.AbsoluteTimeout, r.Persist, r.Linger = 0, 0, false, rot.Meta.Linger
	}
	d := rot.Delta
	d.LastSeen, d.Expires = time.Time{}, time.Time{} // Meta has them
	d.Apply(r)
	return r
}

// ErrCapacity is returned (wrapped) by a store that refuses a new record
// because it is full (see WithMaxRecords). The Manager reports it as
// EventCapacity.
var ErrCapacity = errors.New("session: store at capacity")
