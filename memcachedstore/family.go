package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
)

// Families (see session.Rotator) on Memcached.
//
// A family is one session across its renewals; it has at most one live
// record. A record whose family is its own key (a session never renewed,
// Meta.Family == key or "") needs nothing more: the family is found under
// its key. Every other record (a renewed one, a header session's) is live
// only while its family's anchor, one small item keyed by the family,
// exists, is not ended and names the record's key. So:
//
//   - Family and EndFamily are O(1): read the anchor, then the record it
//     names. No tombstone is followed to find a family's session.
//   - Memcached may evict the anchor at any time. Then every record that
//     needs it is dead at once (fail closed): an evicted anchor logs the
//     session out, it never leaves a session live that its family can no
//     longer reach. Losing a renewal tombstone loses nothing either: the
//     family is reached through the anchor, not through tombstones.
//   - Rotate retires the old record (cas), then names the new key in the
//     anchor: by cas when the anchor existed when the old record was
//     checked (so an anchor evicted meanwhile is never recreated), by add
//     otherwise. EndFamily marks the anchor ended (cas) before it ends the
//     record, so a renewal that has not named its key yet fails, and one
//     that has is ended with the record it named. A family never renewed
//     is ended by ending its record: a renewal of it fails its cas of the
//     old record. (See endFamily for the renewal caught in flight.)
//   - Between the retirement and the naming no record of the family is
//     live: a process that dies there leaves the session ended, not two
//     sessions.

// famOf returns the family of the record r stored under key: its
// Meta.Family, or key when that is "".
func famOf(key string, r *session.Record) string {
	if r.Family == "" {
		return key
	}
	return r.Family
}

// needsAnchor reports whether the record r, stored under key, is live only
// while its family's anchor names key: every record whose family is not
// its own key.
func needsAnchor(key string, r *session.Record) bool {
	return r.Family != "" && r.Family != key
}

// anchorRef is a family's anchor as read: its item (with the CAS token)
// and what it holds.
type anchorRef struct {
	it *memcache.Item
	a  *anchor
}

// decodeAnchor decodes an anchor's item, wrapping a corrupt value (or an
// item of another kind under the anchor's key) in session.ErrStore.
func decodeAnchor(op string, it *memcache.Item) (*anchorRef, error) {
	d, err := decode(it.Value)
	if err == nil && d.anchor == nil {
		err = fmt.Errorf("%w: not a family anchor", errCorrupt)
	}
	if err != nil {
		return nil, storeErr(op, err)
	}
	return &anchorRef{it: it, a: d.anchor}, nil
}

// getMulti reads the items under keys ("" skipped) in one round trip. A
// missing item is absent from the map.
func (s *base) getMulti(ctx context.Context, op string, keys ...string) (map[string]*memcache.Item, error) {
	ks := make([]string, 0, len(keys))
	for _, k := range keys {
		if k != "" {
			ks = append(ks, k)
		}
	}
	if len(ks) == 0 {
		return nil, nil
	}
	if err := ctxErr(ctx, op); err != nil {
		return nil, err
	}
	got, err := s.client.GetMulti(ks)
	if err != nil {
		return nil, storeErr(op, err)
	}
	return got, nil
}

// getAnchor reads family's anchor: nil, nil when there is none.
func (s *base) getAnchor(ctx context.Context, op, family string) (*anchorRef, error) {
	it, err := s.get(ctx, op, s.anchorKey(family), false)
	if err != nil || it == nil {
		return nil, err
	}
	return decodeAnchor(op, it)
}

// deps reads, in one round trip, what the liveness of r (under key)
// depends on besides its own item: its family's anchor when r needs one
// (nil when it needs none or the anchor is gone), and the item under extra
// when extra is not "" (Store: the user's item).
func (s *base) deps(ctx context.Context, op, key string, r *session.Record, extra string) (*anchorRef, *memcache.Item, error) {
	ak := ""
	if needsAnchor(key, r) {
		ak = s.anchorKey(r.Family)
	}
	got, err := s.getMulti(ctx, op, ak, extra)
	if err != nil {
		return nil, nil, err
	}
	var aref *anchorRef
	if it := got[ak]; ak != "" && it != nil {
		if aref, err = decodeAnchor(op, it); err != nil {
			return nil, nil, err
		}
	}
	return aref, got[extra], nil
}

// namesKey checks that aref, the anchor of a record that needs one (nil:
// the anchor is gone), names key as its family's live record.
func namesKey(op string, aref *anchorRef, key string) error {
	switch {
	case aref == nil:
		return fmt.Errorf("memcachedstore: %s: the family's anchor is gone (evicted or expired): %w", op, session.ErrNotFound)
	case aref.a.Ended:
		return fmt.Errorf("memcachedstore: %s: the family was ended: %w", op, session.ErrNotFound)
	case aref.a.Live != key:
		return fmt.Errorf("memcachedstore: %s: not the family's live record: %w", op, session.ErrNotFound)
	}
	return nil
}

// anchorUntil is how long a family's anchor must live when it names r: at
// least as long as r's item (its Expires and Linger) and as r can be kept
// alive by touches (CreatedAt plus its own AbsoluteTimeout), and at least
// the maximum session lifetime, which bounds sessions that follow the
// Manager's absolute timeout (AbsoluteTimeout 0). An anchor that expired
// first would log the session out early: never keep it alive, but a bug.
// Update extends it if a write makes the record outlive it.
func (s *base) anchorUntil(r *session.Record, now time.Time) time.Time {
	u := now.Add(s.lifetime)
	if r.AbsoluteTimeout > 0 {
		u = maxTime(u, r.CreatedAt.Add(r.AbsoluteTimeout+max(r.Linger, 0)))
	}
	return maxTime(u, r.Expires.Add(max(r.Linger, 0)))
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// anchorItem encodes a as the anchor of family, expiring at a.Until
// (relative seconds, or an absolute Unix time beyond 30 days).
func (s *base) anchorItem(family string, a *anchor, now time.Time) *memcache.Item {
	exp, ok := expiration(a.Until, now)
	if !ok {
		exp = 1
	}
	return &memcache.Item{Key: s.anchorKey(family), Value: encodeAnchor(make([]byte, 0, 80), a), Expiration: exp}
}

// nameLive makes key (holding r) the live record of family: the last step
// of Rotate, and of a Create of a record that needs an anchor. known is the
// anchor as read when the old record was checked (nil when it was not
// read). An anchor that was read is only ever replaced by cas, so one
// evicted meanwhile is not recreated: its family's records are dead, and
// this one with them. A family with no anchor gets one with add, which
// fails if EndFamily's mark (or anything) got there first. An ended family
// is ErrNotFound; nothing is written then.
func (s *base) nameLive(ctx context.Context, op, family, key string, r *session.Record, known *anchorRef) error {
	now := s.now()
	cur := known
	for attempt := range s.maxRetries {
		next := s.anchorItem(family, &anchor{Live: key, Until: s.anchorUntil(r, now)}, now)
		if err := ctxErr(ctx, op); err != nil {
			return err
		}
		s.at(op + ":anchor")
		var err error
		if cur == nil {
			err = s.client.Add(next)
		} else {
			if cur.a.Ended {
				return fmt.Errorf("memcachedstore: %s: the family was ended: %w", op, session.ErrNotFound)
			}
			next.CasID = cur.it.CasID
			err = s.client.CompareAndSwap(next)
		}
		switch {
		case err == nil:
			return nil
		case cur != nil && (errors.Is(err, memcache.ErrCacheMiss) || errors.Is(err, memcache.ErrNotStored)):
			return fmt.Errorf("memcachedstore: %s: the family's anchor is gone (evicted or expired): %w", op, session.ErrNotFound)
		case !errors.Is(err, memcache.ErrCASConflict) && !errors.Is(err, memcache.ErrNotStored):
			return storeErr(op, err)
		}
		// Written meanwhile (an add that lost, a cas that conflicted): read
		// it again. Ended, it refuses; gone after it existed, it fails
		// closed; else this renewal's key replaces whatever it names.
		existed := cur != nil
		if cur, err = s.getAnchor(ctx, op, family); err != nil {
			return err
		}
		if cur == nil && existed {
			return fmt.Errorf("memcachedstore: %s: the family's anchor is gone (evicted or expired): %w", op, session.ErrNotFound)
		}
		if err := s.backoff(ctx, op, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("memcachedstore: %s: family anchor: %d attempts: %w", op, s.maxRetries, ErrContention)
}

// keepAnchor makes the anchor aref (naming key) live at least as long as
// r, which an update is about to write: a record kept alive by touches (or
// given longer timeouts) must not outlive the anchor that makes it live.
// It returns memcache.ErrCASConflict when the anchor changed since it was
// read (the caller retries) and ErrNotFound when it is gone.
func (s *base) keepAnchor(ctx context.Context, op, key string, r *session.Record, aref *anchorRef, now time.Time) error {
	if !aref.a.Until.Before(r.Expires.Add(max(r.Linger, 0))) {
		return nil
	}
	next := s.anchorItem(r.Family, &anchor{Live: key, Until: s.anchorUntil(r, now)}, now)
	next.CasID = aref.it.CasID
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	err := s.client.CompareAndSwap(next)
	switch {
	case err == nil, errors.Is(err, memcache.ErrCASConflict):
		return err
	case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
		return fmt.Errorf("memcachedstore: %s: the family's anchor is gone (evicted or expired): %w", op, session.ErrNotFound)
	default:
		return storeErr(op, err)
	}
}

// liveFunc checks the liveness of a record beyond its own item and its
// family's anchor: Store's generation check, UnindexedStore's refusal of
// a Store's user sessions. nil, or an error (wrapping ErrNotFound when the
// record is not live).
type liveFunc func(ctx context.Context, op string, r *session.Record, now time.Time) error

// family is Rotator.Family: one round trip for a family never renewed
// (the anchor and the record under the family's own key, together), two
// for a renewed one (then the record the anchor names); live checks one
// more (Store: the user's item).
func (s *base) family(ctx context.Context, family string, live liveFunc) (string, *session.Record, error) {
	const op = "family"
	if family == "" {
		return "", nil, notFound(op)
	}
	ak, fk := s.anchorKey(family), s.itemKey(family)
	got, err := s.getMulti(ctx, op, ak, fk)
	if err != nil {
		return "", nil, err
	}
	key, it := family, got[fk]
	var aref *anchorRef
	if ait := got[ak]; ait != nil {
		if aref, err = decodeAnchor(op, ait); err != nil {
			return "", nil, err
		}
		if aref.a.Ended || aref.a.Live == "" {
			return "", nil, fmt.Errorf("memcachedstore: %s: the family was ended: %w", op, session.ErrNotFound)
		}
		if key = aref.a.Live; key != family {
			if it, err = s.get(ctx, op, s.itemKey(key), false); err != nil {
				return "", nil, err
			}
		}
	}
	if it == nil {
		return "", nil, notFound(op)
	}
	d, err := decodeItem(op, it)
	if err != nil {
		return "", nil, err
	}
	now := s.now()
	if ended(d, now) != nil {
		return "", nil, notFound(op)
	}
	r := d.rec
	if famOf(key, r) != family {
		return "", nil, fmt.Errorf("memcachedstore: %s: the record is another family's: %w", op, session.ErrNotFound)
	}
	if needsAnchor(key, r) {
		if err := namesKey(op, aref, key); err != nil {
			return "", nil, err
		}
	}
	if err := live(ctx, op, r, now); err != nil {
		return "", nil, err
	}
	return key, r, nil
}

// endFamily is Rotator.EndFamily. Its steps:
//
//  1. read the family's anchor and the record under the family's own key
//     (one multi-get); the record to end is the one the anchor names, or
//     without an anchor the one under the family's key (a family never
//     renewed, or one whose anchor is gone and its renewed records with
//     it);
//  2. if that key holds the EndRotated tombstone of a renewal of this
//     family, the renewal is in flight (it retired the old key and has
//     not named its new key yet, or the anchor would name it; without an
//     anchor it may also be a finished renewal whose anchor is gone, and
//     its record dead with it): the record to end is its new one. This reads one tombstone's Next, once, to
//     stop the one renewal in flight; it is not how a family's session is
//     found (an evicted tombstone loses nothing: see step 4);
//  3. a family never renewed whose record is live (no anchor, the record
//     under its own key): end it as Delete does, and that is all; a
//     renewal of it in flight fails its cas of the old record. If the
//     record changed meanwhile (renewed), start again;
//  4. mark the anchor ended: by cas from the version read in step 1, or
//     by add when there was none. From then on no record of the family is
//     live (each needs the anchor to name it) and no renewal can name a
//     new key (its cas or add fails), whether the mark stays or is later
//     evicted; if the anchor changed since step 1, start again;
//  5. end the record as Delete does, so it reads as logged out, not merely
//     unreachable, and report it: it was the family's live record when
//     the mark landed (a renewal that failed on the mark may have removed
//     it by then; the session is ended all the same).
func (s *base) endFamily(ctx context.Context, family string, live liveFunc) (*session.IndexedRecord, error) {
	const op = "end family"
	if family == "" {
		return nil, notFound(op)
	}
	ofFamily := func(key string, r *session.Record) error {
		if famOf(key, r) != family {
			return fmt.Errorf("memcachedstore: %s: another family's record: %w", op, session.ErrNotFound)
		}
		return nil
	}
	ak, fk := s.anchorKey(family), s.itemKey(family)
	for attempt := range s.maxRetries {
		// Step 1.
		got, err := s.getMulti(ctx, op, ak, fk)
		if err != nil {
			return nil, err
		}
		var aref *anchorRef
		key, it := family, got[fk]
		if ait := got[ak]; ait != nil {
			if aref, err = decodeAnchor(op, ait); err != nil {
				return nil, err
			}
			if key = aref.a.Live; key != family {
				it = nil
				if key != "" {
					if it, err = s.get(ctx, op, s.itemKey(key), false); err != nil {
						return nil, err
					}
				}
			}
		}
		if aref == nil && it == nil {
			// Nothing of the family here: no anchor, nothing under its
			// key. A family the store never saw (a forged token's) leaves
			// no mark: a client must not grow the store for free.
			return nil, notFound(op)
		}
		// Step 2, and whether the record is live.
		var cand *session.Record
		if it != nil {
			d, err := decode(it.Value)
			if t := d.tomb; err == nil && t != nil && t.Reason == session.EndRotated && t.Family == family && t.Next != "" {
				key = t.Next
				if it, err = s.get(ctx, op, s.itemKey(key), false); err != nil {
					return nil, err
				}
				d, err = item{}, errCorrupt
				if it != nil {
					d, err = decode(it.Value)
				}
			}
			if err == nil && d.rec != nil && ended(d, s.now()) == nil && ofFamily(key, d.rec) == nil {
				switch err := live(ctx, op, d.rec, s.now()); {
				case err == nil:
					cand = d.rec
				case !errors.Is(err, session.ErrNotFound):
					return nil, err
				}
			}
		}
		endIt := func(key string, it *memcache.Item) (*session.Record, error) {
			r, _, err := s.end(context.WithoutCancel(ctx), op, key, it, func(r *session.Record, _ time.Time) error { return ofFamily(key, r) })
			return r, err
		}
		if aref == nil && cand != nil && key == family {
			// Never renewed: ending the record is enough, a renewal of it
			// in flight fails its cas of it. If it changed meanwhile
			// (renewed), look again.
			s.at("endfamily:end")
			r, err := endIt(key, it)
			if err != nil || r != nil {
				if err != nil {
					return nil, err
				}
				return &session.IndexedRecord{Key: key, Meta: r.Meta}, nil
			}
			if err := s.backoff(ctx, op, attempt); err != nil {
				return nil, err
			}
			continue
		}
		// Step 3.
		wasEnded := aref != nil && aref.a.Ended
		if !wasEnded {
			now := s.now()
			mark := &anchor{Live: key, Ended: true, Until: now.Add(s.lifetime)}
			if aref != nil {
				mark.Until = maxTime(mark.Until, aref.a.Until)
			}
			next := s.anchorItem(family, mark, now)
			if err := ctxErr(ctx, op); err != nil {
				return nil, err
			}
			s.at("endfamily:mark")
			if aref != nil {
				next.CasID = aref.it.CasID
				err = s.client.CompareAndSwap(next)
			} else {
				err = s.client.Add(next)
			}
			switch {
			case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
				// Renamed, marked or evicted meanwhile: start again.
				if err := s.backoff(ctx, op, attempt); err != nil {
					return nil, err
				}
				continue
			case err != nil:
				return nil, storeErr(op, err)
			}
		}
		if key == "" || (cand == nil && !wasEnded) {
			return nil, notFound(op)
		}
		// Step 4 (also after an earlier EndFamily that stopped between its
		// mark and here). The mark is down: ctx no longer cuts it short.
		s.at("endfamily:end")
		r, err := endIt(key, it)
		if err != nil {
			return nil, err
		}
		if wasEnded {
			// Ended before: a renewed record was dead since the mark; a
			// record never renewed was live until now.
			if r == nil || needsAnchor(key, r) {
				return nil, notFound(op)
			}
			return &session.IndexedRecord{Key: key, Meta: r.Meta}, nil
		}
		if cand == nil {
			return nil, notFound(op)
		}
		if r == nil {
			r = cand
		}
		return &session.IndexedRecord{Key: key, Meta: r.Meta}, nil
	}
	return nil, fmt.Errorf("memcachedstore: %s: %d attempts: %w", op, s.maxRetries, ErrContention)
}

// Family implements [session.Rotator]: the family's live record (see
// endFamily for how families are kept). A renewed record is found through
// its family's anchor; if Memcached evicted the anchor, the family has no
// live record (the renewed record died with it).
func (x *Store) Family(ctx context.Context, family string) (string, *session.Record, error) {
	return x.s.family(ctx, family, x.current)
}

// EndFamily implements [session.Rotator]: it marks the family's anchor
// ended (cas) and ends the record it names as Delete does (the user's
// index drops the key at its next listing, as after Delete), so no
// renewal racing it survives; a family never renewed is ended under its
// own key. A few round trips (five for a user's renewed session), whatever
// the number of renewals. An evicted anchor took the renewed session with
// it: EndFamily then has no live session to end (it ends, and reports, the
// record that a renewal tombstone under the family's key names, if that
// tombstone is still there: it cannot tell that renewal from one in
// flight).
func (x *Store) EndFamily(ctx context.Context, family string) (*session.IndexedRecord, error) {
	return x.s.endFamily(ctx, family, x.current)
}

// Family implements [session.Rotator], as Store.Family does.
func (u *UnindexedStore) Family(ctx context.Context, family string) (string, *session.Record, error) {
	return u.s.family(ctx, family, indexedElsewhere)
}

// EndFamily implements [session.Rotator], as Store.EndFamily does.
func (u *UnindexedStore) EndFamily(ctx context.Context, family string) (*session.IndexedRecord, error) {
	return u.s.endFamily(ctx, family, indexedElsewhere)
}
