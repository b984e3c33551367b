package memcachedstore

import (
	"context"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
)

// UnindexedStore is a [session.Store] and [session.Rotator] over Memcached
// without the per-user index: every read costs one round trip and every
// write two, logged in or not (two and four for a renewed session, which
// reads its family's anchor too: see Store.EndFamily), but "your devices", log-out-everywhere and
// Config.MaxSessionsPerUser need [Store] (or the Redis or SQL store): with
// it, Manager.Sessions, Revoke, RevokeUser and RevokeOthers return
// session.ErrNoIndex and session.New refuses MaxSessionsPerUser. Sessions
// are kept as Store keeps them (one item each, gets/cas merge, tombstones),
// under the same keys; a user's session written by a Store reads as not
// found here (its revocation cannot be checked), so switching between the
// two on one prefix logs users out, never back in.
type UnindexedStore struct {
	s *base
}

// NewUnindexed returns an UnindexedStore over client (see New).
func NewUnindexed(client *memcache.Client, opts ...Option) *UnindexedStore {
	return &UnindexedStore{s: newBase(client, opts)}
}

// Load implements [session.Store]: one round trip. A session that ended
// recently reports a *[session.Tombstone] (matching [session.ErrNotFound]).
func (u *UnindexedStore) Load(ctx context.Context, key string) (*session.Record, error) {
	return u.s.load(ctx, key, u.check)
}

// Create implements [session.Store]: one round trip (set), replacing
// whatever the key held. A record whose Expires has passed is not stored:
// the key is deleted instead.
func (u *UnindexedStore) Create(ctx context.Context, key string, r *session.Record) error {
	return u.s.create(ctx, key, r)
}

// Update implements [session.Store]: it merges d into the record with
// gets/cas, retrying when another write landed in between (up to the
// retry bound, then ErrContention). After a Load of the same key by this
// Store it usually takes one round trip (the cas), else two. A key with no
// live record is [session.ErrNotFound], and nothing is written.
func (u *UnindexedStore) Update(ctx context.Context, key string, d *session.Delta) error {
	return u.s.update(ctx, key, d, u.check)
}

// Delete implements [session.Store]: it replaces a live record by a
// destroyed [session.Tombstone] kept for the record's Linger (gets/cas: two
// round trips, one after a Load). A tombstone or a missing key is left as
// it is, without error.
func (u *UnindexedStore) Delete(ctx context.Context, key string) error {
	return u.s.destroy(ctx, key)
}

// Rotate implements [session.Rotator] as atomically as Memcached allows:
//
//  1. read the old record with its CAS token (none when OldKey is "");
//     a missing, ended or expired one is [session.ErrNotFound];
//  2. add the new record under NewKey with "add", which never overwrites
//     (a key already there is an error, and nothing else is written);
//  3. replace the old record, by cas, with a [session.EndRotated]
//     tombstone naming NewKey and the family;
//  4. when the new record's family is not its key (Meta.Family), name
//     NewKey in the family's anchor (cas from the version step 1 checked,
//     or add for a family never renewed); a family ended meanwhile
//     (EndFamily) or whose anchor was evicted makes the renewal fail with
//     [session.ErrNotFound], its new record removed and the old one retired:
//     the session is ended.
//
// The cas of step 3 is the moment of the renewal. If the old record
// changed in between (a concurrent Update), the new record is rebuilt from
// it (by cas) and step 3 is tried again, so the renewal carries that
// update; if the old record was deleted, renewed or evicted in between, the
// new record is removed and Rotate returns ErrNotFound. So exactly one of two renewals of one ID
// wins, a logout that completes before the renewal wins, and an update is
// never lost across a renewal. Until step 3 the new record exists but no
// client knows its key; if the process or the server dies between steps 2
// and 3, or the removal fails, it stays unreachable until its own expiry.
// The old ID is never live at the same time as the new one once Rotate has
// returned without error.
//
// Rotation.RevokeUser and Rotation.MaxSessions need a per-user index, which
// this store does not keep (Store does): such a Rotation fails with
// an error wrapping [session.ErrStore] (the Manager never sends one to a
// store that lacks [session.UserIndex]).
func (u *UnindexedStore) Rotate(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	return u.s.rotate(ctx, rot, u.check)
}

// check is UnindexedStore's checkFunc: indexedElsewhere, and the family
// anchor of a renewed record (one round trip, only for such a record).
func (u *UnindexedStore) check(ctx context.Context, op, key string, r *session.Record, now time.Time) (*anchorRef, error) {
	if err := indexedElsewhere(ctx, op, r, now); err != nil {
		return nil, err
	}
	if !needsAnchor(key, r) {
		return nil, nil
	}
	aref, _, err := u.s.deps(ctx, op, key, r, "")
	if err != nil {
		return nil, err
	}
	if err := namesKey(op, aref, key); err != nil {
		return nil, err
	}
	return aref, nil
}

// indexedElsewhere refuses a user's record that carries a revocation
// generation: one a Store wrote under the same prefix. This store cannot
// check that generation, and the session may have been logged out
// everywhere, so it is not found. Records this store writes carry none
// (the Manager keeps Meta.Generation as the store gave it). So moving
// between Store and UnindexedStore on one prefix logs users out, never
// back in.
func indexedElsewhere(_ context.Context, op string, r *session.Record, _ time.Time) error {
	if r.UserID != "" && r.Generation != 0 {
		return fmt.Errorf("memcachedstore: %s: a session with a revocation generation (written by Store): %w", op, session.ErrNotFound)
	}
	return nil
}

var (
	_ session.Store   = (*UnindexedStore)(nil)
	_ session.Rotator = (*UnindexedStore)(nil)
)

// Ping checks that every server of the client answers (a version round
// trip), for [session.Manager.Ping]. A failure wraps [session.ErrStore].
func (s *UnindexedStore) Ping(ctx context.Context) error { return s.s.ping(ctx) }
