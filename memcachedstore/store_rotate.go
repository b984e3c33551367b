package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
)

// Rotate implements [session.Rotator] with the index. Its steps:
//
//  1. with Rotation.RevokeUser, replace the user's generation (the
//     revocation comes first, even when the old record turns out gone);
//  2. read the old record and check it is live and current (its user's
//     generation; the one just replaced for its own revocation);
//  3. read (or create) the user's item and, with a cap, its live sessions,
//     choosing the ones to evict or refusing with
//     [session.ErrTooManySessions];
//  4. add the new record (generation: the old record's when the user is
//     unchanged and not revoked, else the user's current one);
//  5. cas the user's item: the new key in, the old key and the evicted
//     ones out. This is where concurrent logins and revocations of the user
//     are ordered: on a conflict the new record is removed and Rotate starts
//     again, so the cap counts every session that won before it;
//  6. cas the old record into a [session.EndRotated] tombstone naming the
//     new key and the family (see UnindexedStore.Rotate; an update of the
//     old record landing meanwhile is carried over to the new record), then
//     name the new key in its family's anchor when it needs one (cas, or
//     add for a family never renewed; see Store.EndFamily);
//  7. end the evicted sessions.
//
// If step 6 finds the old record ended (a logout, another renewal) or the
// family ended (EndFamily) or its anchor gone, the new record is removed,
// its key leaves the index, the sessions chosen for eviction go back into
// it, and Rotate returns [session.ErrNotFound]. A
// revocation landing after step 5 ends the new record too (its generation
// is stale), even though Rotate returns without error. If the process dies
// between steps 5 and 7, the sessions chosen for eviction stay live but
// unlisted until they end (a revocation still ends them).
func (x *Store) Rotate(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	const op = "rotate"
	user := rot.Meta.UserID
	// With RevokeUser: the generation this rotation's own revocation
	// replaced, and the one it put in its place.
	var revokedGen, ownGen uint64
	if rot.RevokeUser && user != "" {
		var err error
		if revokedGen, ownGen, err = x.revoke(ctx, op, user); err != nil {
			return nil, err
		}
	}
	newKey := x.s.itemKey(rot.NewKey)
	for attempt := range x.s.maxRetries {
		// Step 2.
		var old *session.Record
		var oldIt *memcache.Item
		if rot.OldKey != "" {
			it, err := x.s.get(ctx, op, x.s.itemKey(rot.OldKey), attempt == 0)
			if err != nil {
				return nil, err
			}
			if it == nil {
				return nil, notFound(op)
			}
			dec, err := decodeItem(op, it)
			if err != nil {
				return nil, err
			}
			if ended(dec, x.s.now()) != nil {
				return nil, notFound(op)
			}
			old, oldIt = dec.rec, it
		}
		// Step 3 (and the old record's generation and family checks): the
		// user's item and the old record's family anchor in one round trip.
		var uit *memcache.Item
		var u *userItem
		var aref *anchorRef
		var err error
		uk := ""
		if user != "" {
			uk = x.userKey(user)
		}
		if old != nil {
			var raw *memcache.Item
			if aref, raw, err = x.s.deps(ctx, op, rot.OldKey, old, uk); err != nil {
				return nil, err
			}
			if needsAnchor(rot.OldKey, old) {
				if err := namesKey(op, aref, rot.OldKey); err != nil {
					return nil, err
				}
			}
			if raw != nil {
				if u, err = decodeUser(op, raw); err != nil {
					return nil, err
				}
				uit = raw
			}
		}
		if user != "" && uit == nil {
			if uit, u, err = x.ensureUser(ctx, op, user); err != nil {
				return nil, err
			}
		}
		if old != nil && old.UserID != "" {
			want := old.Generation
			switch {
			case old.UserID == user && rot.RevokeUser:
				// A later revocation (or an eviction) overtook this one:
				// it ends the renewal too.
				if want != revokedGen || u.Gen != ownGen {
					return nil, notFound(op + ": revoked")
				}
			case old.UserID == user:
				if want != u.Gen {
					return nil, notFound(op + ": revoked")
				}
			default:
				if err := x.current(ctx, op, old, x.s.now()); err != nil {
					if errors.Is(err, session.ErrNotFound) {
						return nil, notFound(op + ": revoked")
					}
					return nil, err
				}
			}
		}
		var victims []session.IndexedRecord
		var dead []string
		if user != "" && rot.MaxSessions > 0 {
			var live []session.IndexedRecord
			if live, dead, err = x.liveSessions(ctx, op, user, u); err != nil {
				return nil, err
			}
			if victims, err = rot.Victims(live); err != nil {
				return nil, fmt.Errorf("memcachedstore: %s: %w", op, err)
			}
		}
		// Step 4.
		var userGen uint64
		if u != nil {
			userGen = u.Gen
		}
		r := rot.Renewed(old, userGen)
		if err := x.s.addRotated(ctx, newKey, r, x.s.now()); err != nil {
			return nil, err
		}
		// Step 5.
		if user != "" {
			out := keysOf(victims)
			out = append(out, dead...)
			if old != nil && old.UserID == user {
				out = append(out, rot.OldKey)
			}
			u.Keys = slices.DeleteFunc(u.Keys, func(k string) bool { return k == rot.NewKey || slices.Contains(out, k) })
			u.Keys = append(u.Keys, rot.NewKey)
			x.s.at("rotate:user")
			if err := x.casUser(ctx, op, user, uit, u); err != nil {
				_ = x.s.removeNew(newKey) // best effort: no client knows the key
				if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, errGenMoved) {
					if err := x.s.backoff(ctx, op, attempt); err != nil {
						return nil, err
					}
					continue // a login, revocation or eviction of the user meanwhile
				}
				return nil, err
			}
		}
		// Step 6, and 6b: name the new key in its family's anchor.
		var stepErr error
		if oldIt != nil {
			if stepErr = x.s.retire(ctx, rot, oldIt, old, newKey, r.Generation); stepErr != nil {
				_ = x.s.removeNew(newKey)
			}
		}
		if stepErr == nil {
			stepErr = x.s.nameNew(ctx, rot, r, old, aref, newKey) // removes the new record if it fails
		}
		if err := stepErr; err != nil {
			if user != "" {
				// Put back what step 5 took out: a session that is in
				// fact ended is pruned at the next listing.
				back := keysOf(victims)
				if old != nil && old.UserID == user {
					back = append(back, rot.OldKey)
				}
				ierr := x.reindex(context.WithoutCancel(ctx), op, user, r.Generation, back, rot.NewKey)
				if ierr != nil && !errors.Is(ierr, errGenMoved) { // moved: nothing to put back
					return nil, ierr
				}
			}
			return nil, err
		}
		// Step 7.
		for _, v := range victims {
			if err := x.s.destroy(context.WithoutCancel(ctx), v.Key); err != nil {
				return victims, err
			}
		}
		return victims, nil
	}
	return nil, fmt.Errorf("memcachedstore: %s: %d attempts: %w", op, x.s.maxRetries, ErrContention)
}

func keysOf(rs []session.IndexedRecord) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Key)
	}
	return out
}
