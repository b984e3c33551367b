package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
)

// errNoIndex is the error of a Rotation that needs a per-user index.
var errNoIndex = fmt.Errorf("memcachedstore: rotate: UnindexedStore keeps no per-user index "+
	"(RevokeUser and MaxSessions need Store): %w", session.ErrStore)

// rotate is UnindexedStore.Rotate, with check (when not nil) run on the old
// record.
func (s *base) rotate(ctx context.Context, rot *session.Rotation, check checkFunc) ([]session.IndexedRecord, error) {
	if rot.RevokeUser || rot.MaxSessions > 0 {
		return nil, errNoIndex
	}
	newKey := s.itemKey(rot.NewKey)
	if rot.OldKey == "" {
		r := rot.NewRecord(nil)
		if err := s.addRotated(ctx, newKey, r, s.now()); err != nil {
			return nil, err
		}
		return nil, s.nameNew(ctx, rot, r, nil, nil, newKey)
	}
	it, err := s.get(ctx, "rotate", s.itemKey(rot.OldKey), true)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, notFound("rotate")
	}
	dec, err := decodeItem("rotate", it)
	if err != nil {
		return nil, err
	}
	if ended(dec, s.now()) != nil {
		return nil, notFound("rotate")
	}
	var aref *anchorRef
	if check != nil {
		if aref, err = check(ctx, "rotate", rot.OldKey, dec.rec, s.now()); err != nil {
			return nil, err
		}
	}
	r := rot.NewRecord(dec.rec)
	if err := s.addRotated(ctx, newKey, r, s.now()); err != nil {
		return nil, err
	}
	if err := s.retire(ctx, rot, it, dec.rec, newKey, r.Generation); err != nil {
		// The renewal did not happen: the new record must not stay.
		if derr := s.removeNew(newKey); derr != nil {
			return nil, derr
		}
		return nil, err
	}
	return nil, s.nameNew(ctx, rot, r, dec.rec, aref, newKey)
}

// nameNew is the step of a renewal after it retired the old record (old;
// nil when there was none): it makes the new record r, stored under
// newKey, the live record of its family when r needs the family's anchor
// (see family.go). known is the anchor read when old was checked: used
// when old was live through the same family's anchor, so the anchor is
// replaced by cas and an eviction since fails closed. If the family was
// ended meanwhile (EndFamily) or its anchor lost, the new record is removed
// and the renewal fails with ErrNotFound: the old record is retired by
// then, so the session is ended, which is what EndFamily asked.
func (s *base) nameNew(ctx context.Context, rot *session.Rotation, r, old *session.Record, known *anchorRef, newKey string) error {
	if !needsAnchor(rot.NewKey, r) {
		return nil
	}
	if old == nil || !needsAnchor(rot.OldKey, old) || old.Family != r.Family {
		known = nil
	}
	if err := s.nameLive(ctx, "rotate", r.Family, rot.NewKey, r, known); err != nil {
		// Best effort: unless the anchor was written after all (an error
		// after the server applied it), the new record is not live even if
		// it stays; removing it ends it in that case too.
		_ = s.removeNew(newKey)
		return err
	}
	return nil
}

// addRotated stores r under the new key with "add".
func (s *base) addRotated(ctx context.Context, newKey string, r *session.Record, now time.Time) error {
	if !now.Before(r.Expires) {
		return notFound("rotate: the renewed record is already past its Expires")
	}
	it, err := s.recordItem("rotate", newKey, r, now)
	if err != nil {
		return err
	}
	if err := ctxErr(ctx, "rotate"); err != nil {
		return err
	}
	err = s.client.Add(it)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, memcache.ErrNotStored):
		return storeErr("rotate", errors.New("the new key is already in use"))
	default:
		return storeErr("rotate", err)
	}
}

// removeNew deletes the new record of a renewal that did not happen.
func (s *base) removeNew(newKey string) error {
	if err := s.client.Delete(newKey); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return storeErr("rotate: remove the unused new record", err)
	}
	return nil
}

// retire is the last step of a renewal whose new record (generation gen)
// is stored under newKey: it replaces the old record, read as oldIt, by an
// EndRotated tombstone naming the new key, with cas. When an update of the
// old record landed in between, the new record is rebuilt from it (by cas,
// so a new record ended meanwhile is never re-created) and the cas is tried
// again. A missing or ended old or new record is ErrNotFound.
func (s *base) retire(ctx context.Context, rot *session.Rotation, oldIt *memcache.Item, old *session.Record, newKey string, gen uint64) error {
	const op = "rotate"
	oldKey := s.itemKey(rot.OldKey)
	for attempt := range s.maxRetries {
		now := s.now()
		t := &tomb{Until: rot.Meta.LastSeen.Add(max(old.Linger, 0))}
		t.Reason, t.At, t.Next = session.EndRotated, rot.Meta.LastSeen, rot.NewKey
		t.Family = rot.Family() // a new family is named after its first key
		next := tombItem(oldKey, t, now)
		next.CasID = oldIt.CasID
		if err := ctxErr(ctx, op); err != nil {
			return err
		}
		s.at("rotate:old")
		err := s.client.CompareAndSwap(next)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
			return notFound(op)
		case !errors.Is(err, memcache.ErrCASConflict):
			return storeErr(op, err)
		}
		// The old record changed: carry the change over, or give up if it
		// ended.
		if oldIt, err = s.get(ctx, op, oldKey, false); err != nil {
			return err
		}
		if oldIt == nil {
			return notFound(op)
		}
		dec, err := decodeItem(op, oldIt)
		if err != nil {
			return err
		}
		if ended(dec, s.now()) != nil {
			return notFound(op)
		}
		old = dec.rec
		newIt, err := s.get(ctx, op, newKey, false)
		if err != nil {
			return err
		}
		if newIt == nil {
			return notFound(op)
		}
		ndec, err := decodeItem(op, newIt)
		if err != nil {
			return err
		}
		if ended(ndec, s.now()) != nil {
			return notFound(op) // ended meanwhile (evicted by a cap, revoked)
		}
		r := rot.NewRecord(old)
		r.Generation = gen
		ni, err := s.recordItem(op, newKey, r, s.now())
		if err != nil {
			return err
		}
		ni.CasID = newIt.CasID
		if err := s.client.CompareAndSwap(ni); err != nil {
			if errors.Is(err, memcache.ErrCacheMiss) || errors.Is(err, memcache.ErrNotStored) || errors.Is(err, memcache.ErrCASConflict) {
				return notFound(op)
			}
			return storeErr(op, err)
		}
		if err := s.backoff(ctx, op, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("memcachedstore: %s: %d attempts: %w", op, s.maxRetries, ErrContention)
}
