package storekit

import (
	"fmt"
	"slices"
	"time"
)

// IndexedRecord is one entry returned by UserIndex.UserSessions.
type IndexedRecord struct {
	Key  string
	Meta Meta
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

// Family returns the renewed record's family (step 4): Meta.Family, or
// NewKey when it is "".
func (rot *Rotation) Family() string { return FamilyOf(rot.NewKey, &rot.Meta) }

// CheckOld applies step 1 once the store has read the old record: old is
// nil when OldKey names no live record (missing, ended, expired or cut off
// by a Fleet revocation), and cur is the current generation of old's user
// as it was before this rotation's own revocation. It returns nil when
// OldKey is "" or names a renewable record, and an error wrapping
// ErrNotFound otherwise.
func (rot *Rotation) CheckOld(old *Record, cur uint64) error {
	switch {
	case rot.OldKey == "":
		return nil
	case old == nil:
		return ErrNotFound
	case old.UserID != "" && old.Generation < cur:
		return fmt.Errorf("revoked: %w", ErrNotFound)
	}
	return nil
}

// Renewed is NewRecord with step 4's generation set: the old record's when
// the user is unchanged and not revoked by this rotation, userGen (the
// current generation of Meta.UserID, after this rotation's own revocation)
// otherwise.
func (rot *Rotation) Renewed(old *Record, userGen uint64) *Record {
	r := rot.NewRecord(old)
	if r.UserID != "" && (old == nil || old.UserID != r.UserID || rot.RevokeUser) {
		r.Generation = userGen
	}
	return r
}

// Tombstone returns step 5's EndRotated tombstone of OldKey, renewed from
// old, and the time until which it is kept; ok is false when nothing is
// kept (no old record, or one without Linger).
func (rot *Rotation) Tombstone(old *Record) (t *Tombstone, until time.Time, ok bool) {
	if rot.OldKey == "" || old == nil || old.Linger <= 0 {
		return nil, time.Time{}, false
	}
	at := rot.Meta.LastSeen
	t = &Tombstone{Reason: EndRotated, At: at, Next: rot.NewKey, Family: rot.Family()}
	return t, at.Add(old.Linger), true
}
