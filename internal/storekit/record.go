// Package storekit is what every session store is built from: the record a
// store keeps (Meta, Record), one request's change to it (Delta), what it
// remembers of an ended session (Tombstone), one renewal (Rotation) and the
// errors stores return. Package session re-exports each of these under the
// same name (session.Record is storekit.Record); the engines under
// internal/ use them without importing the Manager.
package storekit

import (
	"iter"
	"slices"
	"time"
)

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
	// Methods are the authentication methods of the session and the time
	// of each (Login and Reauthenticate with WithMethod), in the Manager's
	// encoding: an opaque string of at most 512 bytes that a store keeps
	// verbatim, like UserAgent, and that changes only by renewal. "" means
	// none recorded.
	Methods string
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

// AfterSet yields the values a session holding rec (nil: none yet) with the
// pending change d (nil: none) would hold after a Set of key = b: rec's,
// less those d deletes or replaces (all of them after a Clear), then d's
// sets, then key.
func AfterSet(rec *Record, d *Delta, key string, b []byte) iter.Seq2[string, []byte] {
	kept := func(k string) bool {
		if k == key || d == nil {
			return k != key
		}
		_, set := d.Set[k]
		return !set && !slices.Contains(d.Delete, k)
	}
	return func(yield func(string, []byte) bool) {
		if rec != nil && (d == nil || !d.Clear) {
			for k, v := range rec.Values {
				if kept(k) && !yield(k, v) {
					return
				}
			}
		}
		if d != nil {
			for k, v := range d.Set {
				if k != key && !yield(k, v) {
					return
				}
			}
		}
		yield(key, b)
	}
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
func (d *Delta) Apply(r *Record) { Merge(d, r, true) }

// Merge is Delta.Apply; without copyValues, r takes d's value slices as
// they are (for a caller that drops d afterwards).
func Merge(d *Delta, r *Record, copyValues bool) {
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
	ApplyMeta(d, &r.Meta)
}

// ApplyMeta sets the metadata fields d carries (LastSeen, Expires, Persist,
// Timeouts) in m and leaves the others: Apply, and a store that keeps
// values apart from the metadata (the memory store).
func ApplyMeta(d *Delta, m *Meta) {
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

// FamilyOf is the family of the record stored under key with metadata m:
// its Meta.Family, or key itself when that is "".
func FamilyOf(key string, m *Meta) string {
	if m.Family != "" {
		return m.Family
	}
	return key
}
