package memcachedstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/sessionkit/session"
)

// multiGetMax bounds the keys of one multi-get (its command line).
const multiGetMax = 128

// pruneAt: a write that leaves a user's item with a multiple of pruneAt
// entries first drops the entries whose sessions have ended (one multi-get
// every pruneAt logins, however many sessions the user keeps).
const pruneAt = 64

// Store is a [session.Store], [session.Rotator] and [session.UserIndex]
// over Memcached, through github.com/bradfitz/gomemcache, so "your
// devices", log-out-everywhere and Config.MaxSessionsPerUser work.
//
// Each session is one item: its metadata and every value, so Memcached
// evicts a session whole or not at all, and an evicted session reads as a
// logged-out one, never as another user's. Writes merge per key with
// gets/cas: concurrent requests that change distinct keys of one session
// all survive, and an update of a session that is gone (deleted, expired,
// evicted, renewed, revoked) fails with [session.ErrNotFound] instead of
// bringing it back. A server that cannot be reached is an error wrapping
// [session.ErrStore] (the Manager answers it with its error handler, a
// 5xx), never a logout.
//
// Memcached cannot tell anyone that an item expired or was evicted: the
// store does not implement [session.ExpiryNotifier], and a session nobody
// comes back for ends without an event (one whose cookie comes back is
// reported as expired while its tombstone lasts).
//
// Each user has one more item, holding a random revocation generation and
// the keys of the user's sessions; each session records the generation it
// was created under. A session is live only while its user's item exists
// and holds the same generation, so the index fails closed:
//
//   - RevokeUser replaces the generation (one cas): every session of the
//     user ends at once, listed or not.
//   - If Memcached evicts a user's item, every session of that user ends
//     (the user is logged out on every device); a later login creates a new
//     item with a new random generation, which no earlier session carries.
//     No eviction can bring a revoked session back.
//   - The per-user cap is decided by the cas of the user's item, so it
//     holds under concurrent logins.
//
// A renewed session (Meta.Family not its key) is live only while its
// family's anchor names it (see [Store.EndFamily]): the anchor is read in
// the same multi-get as the user's item, so a logged-in renewed session
// costs no more round trips than another logged-in one.
//
// The price: a logged-in session's read costs two round trips (the
// session, then its user's item) and a write four; an anonymous session's
// one and two (two and four once renewed: its anchor). [UnindexedStore] keeps one and two for every session, without
// devices or log-out-everywhere. The user's item expires
// WithMaxSessionLifetime after its last write (a login or revocation of the
// user), and its sessions with it.
//
// Memcached's client takes no context: the store checks ctx before every
// round trip, and a round trip in flight is bounded by the client's
// Timeout.
type Store struct {
	s *base
}

// New returns a Store over client. The client's Timeout bounds every round
// trip; its MaxIdleConns should exceed the peak of concurrent requests.
func New(client *memcache.Client, opts ...Option) *Store {
	return &Store{s: newBase(client, opts)}
}

// userKey is the item key of a user's item: the same shape as a session's
// item key, from an input no session key hashes to.
func (x *Store) userKey(user string) string { return x.s.itemKey("\x00user\x00" + user) }

// newGen returns a fresh generation: random and non-zero, so a user's item
// recreated after an eviction never matches an earlier session.
func newGen() uint64 { return rand.Uint64() | 1 }

// getUser reads a user's item with its CAS token; nil, nil when there is
// none.
func (x *Store) getUser(ctx context.Context, op, user string) (*memcache.Item, *userItem, error) {
	it, err := x.s.get(ctx, op, x.userKey(user), false)
	if err != nil || it == nil {
		return nil, nil, err
	}
	u, err := decodeUser(op, it)
	if err != nil {
		return nil, nil, err
	}
	return it, u, nil
}

// decodeUser decodes a user's item, wrapping a corrupt value in
// session.ErrStore.
func decodeUser(op string, it *memcache.Item) (*userItem, error) {
	d, err := decode(it.Value)
	if err == nil && d.user == nil {
		err = fmt.Errorf("%w: not a user item", errCorrupt)
	}
	if err != nil {
		return nil, storeErr(op, err)
	}
	return d.user, nil
}

// ensureUser reads a user's item, creating it (with a new generation) when
// there is none.
func (x *Store) ensureUser(ctx context.Context, op, user string) (*memcache.Item, *userItem, error) {
	for range x.s.maxRetries {
		it, u, err := x.getUser(ctx, op, user)
		if err != nil || it != nil {
			return it, u, err
		}
		if err := ctxErr(ctx, op); err != nil {
			return nil, nil, err
		}
		nu := &userItem{Gen: newGen()}
		err = x.s.client.Add(x.userItemOf(user, nu))
		if err != nil && !errors.Is(err, memcache.ErrNotStored) {
			return nil, nil, storeErr(op, err)
		}
	}
	return nil, nil, fmt.Errorf("memcachedstore: %s: user item: %w", op, ErrContention)
}

// userItemOf encodes u as the user's item, living the session lifetime.
func (x *Store) userItemOf(user string, u *userItem) *memcache.Item {
	exp, _ := expiration(x.s.now().Add(x.s.lifetime), x.s.now())
	return &memcache.Item{Key: x.userKey(user), Value: encodeUser(make([]byte, 0, 16+48*len(u.Keys)), u), Expiration: exp}
}

// errGenMoved is the cause of an index write refused because the user's
// generation changed (revoked) or the user's item is gone (evicted).
var errGenMoved = errors.New("the user's generation moved")

// casUser writes u as the user's item if it is still the one read as it
// (CAS token): nil, errGenMoved when it is gone, memcache.ErrCASConflict
// when it changed. The keys are pruned first now and then (see pruneAt).
func (x *Store) casUser(ctx context.Context, op, user string, it *memcache.Item, u *userItem) error {
	if len(u.Keys) >= pruneAt && len(u.Keys)%pruneAt == 0 {
		_, dead, err := x.liveSessions(ctx, op, user, u)
		if err != nil {
			return err
		}
		u.Keys = slices.DeleteFunc(u.Keys, func(k string) bool { return slices.Contains(dead, k) })
	}
	next := x.userItemOf(user, u)
	if len(next.Key)+len(next.Value)+itemOverhead > x.s.maxItem {
		return fmt.Errorf("memcachedstore: %s: index of %d sessions: %w", op, len(u.Keys), ErrTooLarge)
	}
	next.CasID = it.CasID
	if err := ctxErr(ctx, op); err != nil {
		return err
	}
	err := x.s.client.CompareAndSwap(next)
	switch {
	case err == nil, errors.Is(err, memcache.ErrCASConflict):
		return err
	case errors.Is(err, memcache.ErrCacheMiss), errors.Is(err, memcache.ErrNotStored):
		return errGenMoved
	default:
		return storeErr(op, err)
	}
}

// index adds key to user's index (generation gen): see reindex.
func (x *Store) index(ctx context.Context, op, user string, gen uint64, key string) error {
	return x.reindex(ctx, op, user, gen, []string{key}, "")
}

// reindex changes the keys of user's item, generation gen: adds add,
// removes remove (when not ""). It retries on conflict, and returns
// errGenMoved when the generation is no longer gen.
func (x *Store) reindex(ctx context.Context, op, user string, gen uint64, add []string, remove string) error {
	for attempt := range x.s.maxRetries {
		it, u, err := x.getUser(ctx, op, user)
		if err != nil {
			return err
		}
		if u == nil || u.Gen != gen {
			return errGenMoved
		}
		u.Keys = slices.DeleteFunc(u.Keys, func(k string) bool { return k == remove || slices.Contains(add, k) })
		u.Keys = append(u.Keys, add...)
		err = x.casUser(ctx, op, user, it, u)
		if !errors.Is(err, memcache.ErrCASConflict) {
			return err
		}
		if err := x.s.backoff(ctx, op, attempt); err != nil {
			return err
		}
	}
	return fmt.Errorf("memcachedstore: %s: user index: %w", op, ErrContention)
}

// check is Store's checkFunc: the family anchor of a renewed record and
// the generation of a user's record, read in one round trip.
func (x *Store) check(ctx context.Context, op, key string, r *session.Record, now time.Time) (*anchorRef, error) {
	uk := ""
	if r.UserID != "" {
		uk = x.userKey(r.UserID)
	}
	aref, uit, err := x.s.deps(ctx, op, key, r, uk)
	if err != nil {
		return nil, err
	}
	if r.UserID != "" {
		var u *userItem
		if uit != nil {
			if u, err = decodeUser(op, uit); err != nil {
				return nil, err
			}
		}
		if err := genCheck(op, r, u, now); err != nil {
			return nil, err
		}
	}
	if needsAnchor(key, r) {
		if err := namesKey(op, aref, key); err != nil {
			return nil, err
		}
	}
	return aref, nil
}

// current is the generation check of a user's session: its user's item
// must exist and hold the generation the session was created under.
func (x *Store) current(ctx context.Context, op string, r *session.Record, now time.Time) error {
	if r.UserID == "" {
		return nil
	}
	_, u, err := x.getUser(ctx, op, r.UserID)
	if err != nil {
		return err
	}
	return genCheck(op, r, u, now)
}

// genCheck is current on the user's item u as read (nil: gone).
func genCheck(op string, r *session.Record, u *userItem, now time.Time) error {
	if u == nil {
		return fmt.Errorf("memcachedstore: %s: the user's item is gone (evicted or expired): %w", op, session.ErrNotFound)
	}
	if u.Gen == r.Generation {
		return nil
	}
	if now.Before(u.RevokedAt.Add(r.Linger)) {
		return fmt.Errorf("memcachedstore: %s: %w", op, &session.Tombstone{Reason: session.EndRevoked, At: u.RevokedAt})
	}
	return fmt.Errorf("memcachedstore: %s: revoked: %w", op, session.ErrNotFound)
}

// liveSessions reads the sessions listed in u (one round trip per
// multiGetMax of them) and splits them into the live, current ones and the
// keys of the others.
func (x *Store) liveSessions(ctx context.Context, op, user string, u *userItem) (live []session.IndexedRecord, dead []string, err error) {
	if len(u.Keys) == 0 {
		return nil, nil, nil
	}
	mkeys := make([]string, len(u.Keys))
	for i, k := range u.Keys {
		mkeys[i] = x.s.itemKey(k)
	}
	items := make(map[string]*memcache.Item, len(mkeys))
	for chunk := range slices.Chunk(mkeys, multiGetMax) {
		if err := ctxErr(ctx, op); err != nil {
			return nil, nil, err
		}
		got, err := x.s.client.GetMulti(chunk)
		if err != nil {
			return nil, nil, storeErr(op, err)
		}
		maps.Copy(items, got)
	}
	now := x.s.now()
	var anchorKeys []string // of the renewed sessions, which need their family's anchor
	for i, k := range u.Keys {
		it := items[mkeys[i]]
		if it == nil {
			dead = append(dead, k)
			continue
		}
		d, err := decode(it.Value)
		if err != nil || d.rec == nil || ended(d, now) != nil || d.rec.UserID != user || d.rec.Generation != u.Gen {
			dead = append(dead, k)
			continue
		}
		live = append(live, session.IndexedRecord{Key: k, Meta: d.rec.Meta})
		if needsAnchor(k, d.rec) {
			anchorKeys = append(anchorKeys, x.s.anchorKey(d.rec.Family))
		}
	}
	if len(anchorKeys) == 0 {
		return live, dead, nil
	}
	// One more round trip (per multiGetMax): a renewed session whose
	// family's anchor is gone or ended is not live (and leaves the index).
	// One whose anchor names another key is counted as live: it may be a
	// renewal between its retirement of the old key and its naming of the
	// new one (it is in the index since step 5 of Rotate), and the cap must
	// count it; a renewal that failed there removed its record.
	anchors := make(map[string]*memcache.Item, len(anchorKeys))
	for chunk := range slices.Chunk(anchorKeys, multiGetMax) {
		if err := ctxErr(ctx, op); err != nil {
			return nil, nil, err
		}
		got, err := x.s.client.GetMulti(chunk)
		if err != nil {
			return nil, nil, storeErr(op, err)
		}
		maps.Copy(anchors, got)
	}
	kept := live[:0]
	for _, l := range live {
		if needsAnchor(l.Key, &session.Record{Meta: l.Meta}) {
			var aref *anchorRef
			if it := anchors[x.s.anchorKey(l.Meta.Family)]; it != nil {
				aref, _ = decodeAnchor(op, it) // corrupt: not live
			}
			if aref == nil || aref.a.Ended {
				dead = append(dead, l.Key)
				continue
			}
		}
		kept = append(kept, l)
	}
	return kept, dead, nil
}

// Load implements [session.Store]: one round trip for an anonymous
// session, two for a user's (the session, then the user's item). A session
// whose user was revoked reports a [session.EndRevoked] tombstone; one
// whose user's item was evicted is not found.
func (x *Store) Load(ctx context.Context, key string) (*session.Record, error) {
	return x.s.load(ctx, key, x.check)
}

// Update implements [session.Store]: it merges d into the record with
// gets/cas, retrying when another write landed in between (up to the retry
// bound, then ErrContention). A key with no live record, or whose user was
// revoked or whose user's item is gone, is [session.ErrNotFound], and
// nothing is written. After a Load of the same key it takes one round trip
// for an anonymous session (the cas), two for a user's (the user's item,
// then the cas); one more without.
func (x *Store) Update(ctx context.Context, key string, d *session.Delta) error {
	return x.s.update(ctx, key, d, x.check)
}

// Delete implements [session.Store]: it replaces a live record by a
// destroyed [session.Tombstone] kept for the record's Linger (gets/cas: two
// round trips, one after a Load). A tombstone or a missing key is left as
// it is, without error. The user's index drops the key at its next listing
// or write.
func (x *Store) Delete(ctx context.Context, key string) error {
	return x.s.destroy(ctx, key)
}

// Create implements [session.Store]. A user's session is stamped with the
// user's current generation, written, then added to the user's index. If
// the user is revoked in between, the session is ended by the revocation.
func (x *Store) Create(ctx context.Context, key string, r *session.Record) error {
	if r.UserID == "" || !x.s.now().Before(r.Expires) {
		return x.s.create(ctx, key, r)
	}
	_, u, err := x.ensureUser(ctx, "create", r.UserID)
	if err != nil {
		return err
	}
	rec := *r
	rec.Generation = u.Gen
	if err := x.s.create(ctx, key, &rec); err != nil {
		return err
	}
	err = x.index(ctx, "create", r.UserID, u.Gen, key)
	switch {
	case errors.Is(err, errGenMoved):
		return nil // revoked (or evicted) since: the new session is already ended
	case err != nil:
		// An unlisted session would escape the devices page and the cap.
		_ = x.s.removeNew(x.s.itemKey(key))
	}
	return err
}

// UserSessions implements [session.UserIndex]: the user's live sessions of
// the current generation (two round trips), pruning the index of the
// others.
func (x *Store) UserSessions(ctx context.Context, userID string) ([]session.IndexedRecord, error) {
	it, u, err := x.getUser(ctx, "user sessions", userID)
	if err != nil || u == nil {
		return nil, err
	}
	live, dead, err := x.liveSessions(ctx, "user sessions", userID, u)
	if err != nil {
		return nil, err
	}
	if len(dead) > 0 { // best effort: a conflicting write prunes next time
		u.Keys = slices.DeleteFunc(u.Keys, func(k string) bool { return slices.Contains(dead, k) })
		if err := x.casUser(ctx, "user sessions", userID, it, u); err != nil && !errors.Is(err, memcache.ErrCASConflict) && !errors.Is(err, errGenMoved) {
			return nil, err
		}
	}
	return live, nil
}

// RevokeUser implements [session.UserIndex]: it replaces the user's
// generation in one cas, which ends every session of the user at once,
// indexed or not; their items then read as [session.EndRevoked] tombstones
// for their Linger, and expire on their own. A user with no item has no
// live session.
func (x *Store) RevokeUser(ctx context.Context, userID string) error {
	_, _, err := x.revoke(ctx, "revoke user", userID)
	return err
}

// revoke replaces the user's generation and returns the one it replaced
// and the new one (both 0 when the user had no item).
func (x *Store) revoke(ctx context.Context, op, user string) (prev, next uint64, err error) {
	for attempt := range x.s.maxRetries {
		it, u, err := x.getUser(ctx, op, user)
		if err != nil || u == nil {
			return 0, 0, err
		}
		next = newGen()
		err = x.casUser(ctx, op, user, it, &userItem{Gen: next, RevokedAt: x.s.now()})
		switch {
		case err == nil:
			return u.Gen, next, nil
		case errors.Is(err, errGenMoved):
			return 0, 0, nil // evicted meanwhile: nothing is live
		case !errors.Is(err, memcache.ErrCASConflict):
			return 0, 0, err
		}
		if err := x.s.backoff(ctx, op, attempt); err != nil {
			return 0, 0, err
		}
	}
	return 0, 0, fmt.Errorf("memcachedstore: %s: %w", op, ErrContention)
}

var (
	_ session.Store     = (*Store)(nil)
	_ session.UserIndex = (*Store)(nil)
	_ session.Rotator   = (*Store)(nil)
)

// Ping checks that every server of the client answers (a version round
// trip), for [session.Manager.Ping]. A failure wraps [session.ErrStore].
func (s *Store) Ping(ctx context.Context) error { return s.s.ping(ctx) }
