package session

import (
	"context"
	"errors"
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
// every key it sees is a hash of a session token (see DESIGN.md), never a token.
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
	// ErrNotFound, and writes nothing, when no live record exists.
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
	// limits; they are never longer than the Manager's.
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// Persist asks for a persistent (Max-Age) cookie ("remember me").
	Persist bool
	// Expires is the earlier of the idle and absolute deadlines: the store's
	// TTL. A store may discard the record once it has passed.
	Expires time.Time
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
// that a store merging it leaves other requests' changes to other keys intact.
type Delta struct {
	// Clear removes every value before Set is applied (Session.Clear).
	Clear bool
	// Set holds the values this request wrote.
	Set map[string][]byte
	// Delete lists the values this request removed.
	Delete []string
	// Meta, when non-nil, replaces the record's metadata, including Expires
	// (the store's TTL). It is sent by the throttled touch and by changes to
	// per-session settings; it is nil for a plain value write.
	Meta *Meta
}

// Empty reports whether d changes nothing.
func (d *Delta) Empty() bool {
	return !d.Clear && len(d.Set) == 0 && len(d.Delete) == 0 && d.Meta == nil
}

// Apply merges d into r in place. Stores that hold records as Go values (such
// as the memory store) use it under their lock; others apply the same rules
// natively.
func (d *Delta) Apply(r *Record) {
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
			r.Values[k] = append([]byte(nil), v...)
		}
	}
	if d.Meta != nil {
		gen := r.Generation
		r.Meta = *d.Meta
		r.Generation = gen // a record's generation never changes
	}
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

// IndexedRecord is one entry returned by UserIndex.UserSessions.
type IndexedRecord struct {
	Key  string
	Meta Meta
}
