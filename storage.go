package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session/internal/storekit"
)

// The one door to the store: every store call the Manager makes goes
// through the methods in this file. They give a store's answers (not found,
// ended, over the cap) back as they are, for the caller to act on, and turn
// every other error into a failure: wrapped in ErrStore and reported as an
// EventStoreError (EventCapacity for a full store), queued while a
// session's lock is held (see Session.unlock). A session's writes go
// through its carrier (carrier.go): the storeCarrier methods here call the
// store; with a CookieStore, cookie mode (cookiemode.go) touches no server
// and re-seals the record into the response's cookie instead.

// storeAnswer reports whether err is an answer of the store rather than a
// failure: nil, no such (live) record, or the per-user cap.
func storeAnswer(err error) bool {
	return err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrTooManySessions)
}

// storeLoad loads the record under key. The caller holds s.mu.
func (s *Session) storeLoad(ctx context.Context, key string) (*Record, error) {
	rec, err := s.m.store.Load(ctx, key)
	if errors.Is(err, ErrCorrupt) {
		return nil, err // a verdict on the record, not an outage: see corrupt
	}
	if !storeAnswer(err) {
		return nil, s.storeErr("load", err)
	}
	return rec, err
}

// storeCreate stores r under key. The caller holds s.mu.
func (s *Session) storeCreate(ctx context.Context, op, key string, r *Record) error {
	return s.m.carrier.create(ctx, s, op, key, r)
}

// create is storeCreate with a server store.
func (c *storeCarrier) create(ctx context.Context, s *Session, op, key string, r *Record) error {
	if err := c.m.store.Create(ctx, key, r); err != nil {
		return s.storeErr(op, err)
	}
	return nil
}

// storeUpdate merges d into the record under key. The caller holds s.mu.
func (s *Session) storeUpdate(ctx context.Context, op, key string, d *Delta) error {
	return s.m.carrier.update(ctx, s, op, key, d)
}

// update is storeUpdate with a server store.
func (c *storeCarrier) update(ctx context.Context, s *Session, op, key string, d *Delta) error {
	err := c.m.store.Update(ctx, key, d)
	if !storeAnswer(err) {
		return s.storeErr(op, err)
	}
	return err
}

// storeDelete ends the record under key. The caller holds s.mu.
func (s *Session) storeDelete(ctx context.Context, op, key string) error {
	return s.m.carrier.delete(ctx, s, op, key)
}

// delete is storeDelete with a server store.
func (c *storeCarrier) delete(ctx context.Context, s *Session, op, key string) error {
	if err := c.m.store.Delete(ctx, key); err != nil {
		return s.storeErr(op, err)
	}
	return nil
}

// storeRotate renews an ID in one store step (see Rotator), or with
// separate calls on a store that is not a Rotator. The caller holds s.mu.
func (s *Session) storeRotate(ctx context.Context, rot *Rotation) ([]IndexedRecord, error) {
	return s.m.carrier.rotate(ctx, s, rot)
}

// rotate is storeRotate with a server store.
func (c *storeCarrier) rotate(ctx context.Context, s *Session, rot *Rotation) ([]IndexedRecord, error) {
	m := c.m
	var evicted []IndexedRecord
	var err error
	if r, ok := m.store.(Rotator); ok {
		evicted, err = r.Rotate(ctx, rot)
	} else {
		err = rotateSeparately(ctx, m.store, m.index, rot)
	}
	if !storeAnswer(err) {
		return nil, s.storeErr("renew", err)
	}
	return evicted, err
}

// rotateSeparately renews an ID on a store that is not a Rotator, with
// separate calls: not atomic (a logout landing between them can be undone),
// which is why New refuses MaxSessionsPerUser for such stores.
func rotateSeparately(ctx context.Context, st Store, idx UserIndex, rot *Rotation) error {
	var old *Record
	if rot.OldKey != "" {
		var err error
		if old, err = st.Load(ctx, rot.OldKey); err != nil {
			if rot.RevokeUser && idx != nil && errors.Is(err, ErrNotFound) {
				if rerr := idx.RevokeUser(ctx, rot.Meta.UserID); rerr != nil {
					return rerr
				}
			}
			return err
		}
	}
	if rot.RevokeUser && idx != nil {
		if err := idx.RevokeUser(ctx, rot.Meta.UserID); err != nil {
			return err
		}
	}
	if err := st.Create(ctx, rot.NewKey, rot.NewRecord(old)); err != nil {
		return err
	}
	if rot.OldKey != "" && !rot.RevokeUser {
		if err := st.Delete(ctx, rot.OldKey); err != nil {
			// Two live IDs would be worse than a failed renewal.
			_ = st.Delete(context.WithoutCancel(ctx), rot.NewKey)
			return err
		}
	}
	return nil
}

// revocationLoad reads, in cookie mode, the time the user under key was
// last logged out everywhere from the CookieStore's revocation list (the
// zero time when never). The caller holds s.mu.
func (s *Session) revocationLoad(ctx context.Context, rv Store, key string) (time.Time, error) {
	r, err := rv.Load(ctx, key)
	switch {
	case err == nil:
		return r.AuthenticatedAt, nil // see writeRevocation
	case errors.Is(err, ErrNotFound):
		return time.Time{}, nil
	}
	return time.Time{}, s.storeErr("load revocations", err)
}

// revocationSet records, in cookie mode, a revocation under key in the
// CookieStore's revocation list.
func (m *Manager) revocationSet(ctx context.Context, rv Store, key string, r *Record) error {
	if err := createEnding(ctx, rv, key, r); err != nil { // durable, as every write that ends sessions (cookiemode.go, the revocation list)
		return m.storeErr(ctx, "revoke user", fmt.Errorf("revocation list: %w", err))
	}
	return nil
}

// loadRecord loads the record under key for a Manager operation that holds
// no session's lock (devices).
func (m *Manager) loadRecord(ctx context.Context, op, key string) (*Record, error) {
	rec, err := m.store.Load(ctx, key)
	if errors.Is(err, ErrCorrupt) {
		return nil, m.dropCorrupt(ctx, op, key)
	}
	if !storeAnswer(err) {
		return nil, m.storeErr(ctx, op, err)
	}
	return rec, err
}

// dropCorrupt deletes the record under key that its store cannot decode,
// as a request's load does (Session.corrupt), for a Manager operation (a
// header session's renewal, CheckLive, the devices features): rejected
// with reason "corrupt" and reported as not found, so its client starts
// afresh instead of meeting a store error until the record's TTL.
func (m *Manager) dropCorrupt(ctx context.Context, op, key string) error {
	if err := deleteCorrupt(ctx, m.store, key); err != nil {
		return m.storeErr(ctx, "delete corrupt", err)
	}
	m.emit(ctx, m.actor(ctx, Event{Kind: EventRejected, Session: handleRef(key), Reason: reasonCorrupt}))
	return fmt.Errorf("session: %s: corrupt record deleted: %w", op, ErrNotFound)
}

// deleteCorrupt deletes the undecodable record under key from st. A delete
// the corrupt record itself defeats (left to its TTL) or one that finds it
// gone is not a failure; it returns the store's raw error otherwise.
func deleteCorrupt(ctx context.Context, st Store, key string) error {
	if err := st.Delete(ctx, key); err != nil && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// deleteRecord ends the record under key for a Manager operation.
func (m *Manager) deleteRecord(ctx context.Context, op, key string) error {
	if err := m.store.Delete(ctx, key); err != nil {
		return m.storeErr(ctx, op, err)
	}
	return nil
}

// listUser returns the user's indexed sessions (see UserIndex).
func (m *Manager) listUser(ctx context.Context, userID string) ([]IndexedRecord, error) {
	recs, err := m.index.UserSessions(ctx, userID)
	if err != nil {
		return nil, m.storeErr(ctx, "list user sessions", err)
	}
	return recs, nil
}

// revokeUser ends every session of the user (see UserIndex).
func (m *Manager) revokeUser(ctx context.Context, userID string) error {
	if err := m.index.RevokeUser(ctx, userID); err != nil {
		return m.storeErr(ctx, "revoke user", err)
	}
	return nil
}

// fleet returns the store as a Fleet, or an error wrapping
// errors.ErrUnsupported.
func (m *Manager) fleet(op string) (Fleet, error) {
	f, ok := m.store.(Fleet)
	if !ok {
		return nil, fmt.Errorf("session: %s: the store does not implement Fleet: %w", op, errors.ErrUnsupported)
	}
	return f, nil
}

// revokeAll ends every session created before cutoff (Fleet.RevokeAll).
func (m *Manager) revokeAll(ctx context.Context, cutoff time.Time) error {
	f, err := m.fleet("revoke all")
	if err != nil {
		return err
	}
	if err := f.RevokeAll(ctx, cutoff); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return err // a wrapper over a store without Fleet
		}
		return m.storeErr(ctx, "revoke all", err)
	}
	return nil
}

// countSessions counts the live sessions (Fleet.Count).
func (m *Manager) countSessions(ctx context.Context) (int, error) {
	f, err := m.fleet("count")
	if err != nil {
		return 0, err
	}
	n, err := f.Count(ctx)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return 0, err
		}
		return 0, m.storeErr(ctx, "count", err)
	}
	return n, nil
}

// --- families (see Rotator) ---

// storeEnd ends the session stored under key, whose record (as this request
// loaded it) has meta: its whole family in one store step (see
// Rotator.EndFamily), so that a logout racing a renewal of the same session
// in another tab ends the renewed ID too, whatever number of renewals
// raced it. On a store that is not a Rotator only key itself ends. The
// caller holds s.mu.
func (s *Session) storeEnd(ctx context.Context, op, key string, meta *Meta) error {
	return s.m.carrier.end(ctx, s, op, key, meta)
}

// end is storeEnd with a server store.
func (c *storeCarrier) end(ctx context.Context, s *Session, op, key string, meta *Meta) error {
	if _, ok := c.m.store.(Rotator); !ok || meta == nil {
		return s.storeDelete(ctx, op, key)
	}
	if _, err := endKeyAndFamily(ctx, c.m.store, key, storekit.FamilyOf(key, meta)); err != nil {
		return s.storeErr(op, err)
	}
	return nil
}

// endKeyAndFamily ends, on a Rotator, the family of the record under key
// and, when the store finds nothing of the family live (ended meanwhile,
// or its family index lost), the key itself: losing the index must end a
// session, never keep it. ended is the live record EndFamily ended, if
// any. It returns the store's raw error, for the caller's door.
func endKeyAndFamily(ctx context.Context, st Store, key, family string) (ended *IndexedRecord, err error) {
	ended, err = st.(Rotator).EndFamily(ctx, family)
	if errors.Is(err, ErrNotFound) {
		return nil, st.Delete(ctx, key)
	}
	return ended, err
}

// endFamily ends the live session of family for a Manager operation that
// holds no session's lock. It returns an error wrapping ErrNotFound when
// the family has none, and errors.ErrUnsupported on a store that is not a
// Rotator.
func (m *Manager) endFamily(ctx context.Context, op, family string) (*IndexedRecord, error) {
	rot, ok := m.store.(Rotator)
	if !ok {
		return nil, fmt.Errorf("session: %s: the store does not implement Rotator: %w", op, errors.ErrUnsupported)
	}
	ended, err := rot.EndFamily(ctx, family)
	if !storeAnswer(err) {
		return nil, m.storeErr(ctx, op, err)
	}
	return ended, err
}

// resolveHandle loads the session named by handle, a store key: its record
// when live, or when handle was renewed away (a retired key whose tombstone
// is kept), the live record of its family and that record's key. It
// returns an error wrapping ErrNotFound when neither is live.
func (m *Manager) resolveHandle(ctx context.Context, op, handle string) (string, *Record, error) {
	rec, err := m.loadRecord(ctx, op, handle)
	var t *Tombstone
	switch {
	case err == nil:
		return handle, rec, nil
	case !errors.As(err, &t) || t.Reason != EndRotated || t.Family == "":
		return "", nil, err
	}
	rot, ok := m.store.(Rotator)
	if !ok {
		return "", nil, err
	}
	key, rec, err := rot.Family(ctx, t.Family)
	if !storeAnswer(err) {
		return "", nil, m.storeErr(ctx, op, err)
	}
	return key, rec, err
}

// --- header sessions (headless.go) ---

// rotateKey renews a header session's key in one store step (see Rotator),
// for a Manager operation that holds no session's lock.
func (m *Manager) rotateKey(ctx context.Context, op string, rot *Rotation) ([]IndexedRecord, error) {
	var evicted []IndexedRecord
	var err error
	if r, ok := m.store.(Rotator); ok {
		evicted, err = r.Rotate(ctx, rot)
	} else {
		err = rotateSeparately(ctx, m.store, m.index, rot)
	}
	if !storeAnswer(err) {
		return nil, m.storeErr(ctx, op, err)
	}
	return evicted, err
}

// refreshRecord renews a header session's key in one Refresher step. A
// store that cannot (errors.ErrUnsupported) is an answer, not a failure.
func (m *Manager) refreshRecord(ctx context.Context, rf Refresher, oldKey, newKey string, at time.Time) (*Meta, error) {
	meta, err := rf.Refresh(ctx, oldKey, newKey, at)
	if errors.Is(err, ErrCorrupt) {
		return nil, m.dropCorrupt(ctx, "rotate", oldKey)
	}
	if !storeAnswer(err) && !errors.Is(err, errors.ErrUnsupported) {
		return nil, m.storeErr(ctx, "refresh", err)
	}
	return meta, err
}
