package memstore

import (
	"context"
	"fmt"
	"github.com/sessionkit/session/internal/storekit"
	"slices"
)

// add indexes key under u. The caller holds the user shard lock.
func (u *memUser) add(key string) {
	if u.big != nil {
		u.big[key] = struct{}{}
		return
	}
	free := -1
	for i, k := range u.keys {
		switch k {
		case key:
			return
		case "":
			if free < 0 {
				free = i
			}
		}
	}
	if free >= 0 {
		u.keys[free] = key
		return
	}
	if len(u.keys) < memSmallUser {
		u.keys = append(u.keys, key)
		return
	}
	u.big = make(map[string]struct{}, 2*memSmallUser)
	for _, k := range u.keys {
		if k != "" {
			u.big[k] = struct{}{}
		}
	}
	u.big[key] = struct{}{}
	u.keys = nil
}

// remove drops key from u's index and reports whether u indexes nothing.
// The caller holds the user shard lock.
func (u *memUser) remove(key string) bool {
	if u.big != nil {
		delete(u.big, key)
		return len(u.big) == 0
	}
	empty := true
	for i, k := range u.keys {
		if k == key {
			u.keys[i] = ""
		} else if k != "" {
			empty = false
		}
	}
	return empty
}

// list returns the keys u indexes.
func (u *memUser) list() []string {
	var out []string
	for _, k := range u.keys {
		if k != "" {
			out = append(out, k)
		}
	}
	for k := range u.big {
		out = append(out, k)
	}
	return out
}

func (s *Store) unindex(userID, key string) {
	us := s.userShard(userID)
	us.mu.Lock()
	if u := us.m[userID]; u != nil {
		if u.remove(key) && u.gen == 0 {
			delete(us.m, userID)
		}
	}
	us.mu.Unlock()
}

// user returns the user's entry, creating it. The caller holds us's lock.
func (us *userShard) user(userID string) *memUser {
	u := us.m[userID]
	if u == nil {
		u = &memUser{}
		us.m[userID] = u
	}
	return u
}

// UserSessions implements session.UserIndex.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]storekit.IndexedRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: user sessions: %w", err)
	}
	us := s.userShard(userID)
	us.mu.RLock()
	var keys []string
	if u := us.m[userID]; u != nil {
		keys = u.list()
	}
	us.mu.RUnlock()
	out, dead := s.liveSessions(userID, keys, s.now().UnixNano(), false)
	for _, k := range dead {
		s.unindex(userID, k) // prune
	}
	return out, nil
}

// liveSessions returns the records of keys that are live sessions of
// userID, and the keys that are not. With locked, the caller holds the user
// shard's lock, and the generation is read from it directly.
func (s *Store) liveSessions(userID string, keys []string, now int64, locked bool) (live []storekit.IndexedRecord, dead []string) {
	live = make([]storekit.IndexedRecord, 0, len(keys))
	for _, k := range keys {
		sh := s.shard(k)
		sh.mu.RLock()
		e, ok := sh.m[k]
		sh.mu.RUnlock()
		var meta storekit.Meta
		if ok && e.state == stateLive {
			decodeMeta(&e, len(k), &meta)
		}
		if meta.UserID != userID || now >= e.expires {
			dead = append(dead, k)
			continue
		}
		if locked {
			if meta.Generation < s.userShard(userID).m[userID].gen || s.revokedByAll(&e, len(k)) {
				dead = append(dead, k)
				continue
			}
		} else if state, _, _ := s.check(&e, len(k), now); state != entryLive {
			dead = append(dead, k)
			continue
		}
		live = append(live, storekit.IndexedRecord{Key: k, Meta: meta})
	}
	return live, dead
}

// RevokeUser implements session.UserIndex: the generation bump makes every earlier
// session of the user unloadable at once; the indexed ones are also replaced
// by EndRevoked tombstones.
func (s *Store) RevokeUser(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: revoke user: %w", err)
	}
	us := s.userShard(userID)
	us.mu.Lock()
	u := us.user(userID)
	keys := s.revokeLocked(u, userID)
	gen := u.gen
	us.mu.Unlock()
	s.endRevoked(userID, keys, gen, s.now().UnixNano())
	return nil
}

// revokeLocked bumps u's generation and empties its index, returning the
// keys it held. The caller holds the user shard's lock.
func (s *Store) revokeLocked(u *memUser, userID string) []string {
	u.gen++
	// After the generation: see check.
	s.epochs[epochBucket(userID)].Add(1)
	keys := u.list()
	u.keys, u.big = nil, nil
	return keys
}

// endRevoked replaces the sessions of userID among keys whose generation is
// older than gen by tombstones.
func (s *Store) endRevoked(userID string, keys []string, gen uint64, now int64) {
	for _, k := range keys {
		sh := s.shard(k)
		sh.mu.Lock()
		if e, ok := sh.m[k]; ok && e.hasUser && e.state == stateLive {
			if owner, g := entryUser(&e, len(k)); owner == userID && g < gen {
				s.end(sh, k, stateRevoked, now)
			}
		}
		sh.mu.Unlock()
	}
}

// Rotate implements session.Rotator, applying the steps of Rotation with the
// shared rules of internal/storekit. It holds the lock of the new record's
// user for the whole step, so renewals, revocations and the cap of one user
// are serialized, and the locks of the old and new keys' shards while it
// checks the old record and replaces it.
func (s *Store) Rotate(ctx context.Context, rot *storekit.Rotation) ([]storekit.IndexedRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: rotate: %w", err)
	}
	held, err := s.admit(rot.Meta.UserID != "")
	if err != nil {
		return nil, fmt.Errorf("memory store: rotate: %w", err)
	}
	defer s.admitted(&held)
	now := s.now().UnixNano()
	other := s.oldOwner(rot)
	var ru rotUser // on the stack: Rotate is on the login path
	err = s.lockRotationUser(&ru, rot, now)
	defer ru.finish()
	if err != nil {
		return nil, fmt.Errorf("memory store: rotate: %w", err)
	}
	family := rot.Family()
	fs := s.lockFamily(family, rot.NewKey)
	defer unlockFamily(fs)
	shards := s.lockShards(rot.OldKey, rot.NewKey)
	old, err := s.rotationOld(rot, now, ru.prevGen, other)
	if err != nil {
		shards.unlock()
		ru.victims = nil
		return nil, fmt.Errorf("memory store: rotate: %w", err)
	}
	s.writeRotation(rot, &ru, old, family, &held)
	setFamily(fs, family, rot.NewKey)
	shards.unlock()
	if old != nil && ru.u != nil && old.UserID == ru.id {
		ru.u.remove(rot.OldKey)
	} // another user's index entry is pruned by its next listing
	return slices.Clone(ru.victims), nil
}

// owner is a user and the generation read for it.
type owner struct {
	user string
	gen  uint64
}

// oldOwner returns the old record's user and generation when it belongs to
// another user than the new one, read before any lock (locks are taken user
// first, then shards). A revocation of that user landing meanwhile is
// harmless: the old ID ends here anyway, and the new record is the new
// user's.
func (s *Store) oldOwner(rot *storekit.Rotation) owner {
	if rot.OldKey == "" {
		return owner{}
	}
	sh := s.shard(rot.OldKey)
	sh.mu.RLock()
	e, ok := sh.m[rot.OldKey]
	sh.mu.RUnlock()
	if ok && e.hasUser && e.state == stateLive {
		if u, _ := entryUser(&e, len(rot.OldKey)); u != rot.Meta.UserID {
			return owner{u, s.generation(u)}
		}
	}
	return owner{}
}

// rotUser is the new record's user while Rotate holds its lock: steps 2
// and 3 of Rotation, and what finish does once the renewal is done.
type rotUser struct {
	s       *Store
	us      *userShard
	u       *memUser // nil for an anonymous record
	id      string
	now     int64
	prevGen uint64 // before this rotation's own revocation
	revoked []string
	revoke  bool
	victims []storekit.IndexedRecord // evicted by finish unless cleared
}

// lockRotationUser takes the lock of the new record's user, revokes its
// sessions (RevokeUser) and picks the victims of the cap. The caller calls
// finish in every case.
func (s *Store) lockRotationUser(ru *rotUser, rot *storekit.Rotation, now int64) error {
	*ru = rotUser{s: s, id: rot.Meta.UserID, now: now}
	if ru.id == "" {
		return nil
	}
	ru.us = s.userShard(ru.id)
	ru.us.mu.Lock()
	ru.u = ru.us.user(ru.id)
	ru.prevGen = ru.u.gen
	if rot.RevokeUser {
		ru.revoke, ru.revoked = true, s.revokeLocked(ru.u, ru.id)
	}
	if rot.MaxSessions <= 0 {
		return nil
	}
	live, dead := s.liveSessions(ru.id, ru.u.list(), now, true)
	for _, k := range dead {
		ru.u.remove(k)
	}
	var err error
	ru.victims, err = rot.Victims(live)
	return err
}

// finish evicts the victims, ends the revoked sessions and releases the
// user's lock.
func (ru *rotUser) finish() {
	if ru.u == nil {
		return
	}
	if len(ru.victims) > 0 {
		ru.s.evict(ru.id, ru.u, ru.victims, ru.now)
	}
	if ru.revoke {
		ru.s.endRevoked(ru.id, ru.revoked, ru.u.gen, ru.now)
	}
	ru.us.mu.Unlock()
}

// lockShards locks the shards of oldKey ("" for none) and newKey in index
// order and returns the function that unlocks them.
func (s *Store) lockShards(oldKey, newKey string) shardLocks {
	newSh := s.shard(newKey)
	l := shardLocks{newSh}
	if oldKey != "" {
		if oldSh := s.shard(oldKey); oldSh != newSh {
			l[1] = oldSh
			if fnv32(oldKey)%memShards < fnv32(newKey)%memShards {
				l[0], l[1] = oldSh, newSh
			}
		}
	}
	for _, sh := range l {
		if sh != nil {
			sh.mu.Lock()
		}
	}
	return l
}

// shardLocks is the one or two shards lockShards locked, in lock order; a
// value, so Rotate allocates nothing for it.
type shardLocks [2]*memShard

func (l shardLocks) unlock() {
	for _, sh := range l {
		if sh != nil {
			sh.mu.Unlock()
		}
	}
}

// rotationOld reads and checks the old record (step 1); the caller holds
// its shard's lock. prevGen is the new user's generation before this
// rotation's revocation, other the old record's user when another one.
func (s *Store) rotationOld(rot *storekit.Rotation, now int64, prevGen uint64, other owner) (*storekit.Record, error) {
	if rot.OldKey == "" {
		return nil, nil
	}
	e, ok := s.shard(rot.OldKey).m[rot.OldKey]
	if !ok || e.state != stateLive || now >= e.expires || s.revokedByAll(&e, len(rot.OldKey)) {
		return nil, rot.CheckOld(nil, 0)
	}
	old := &storekit.Record{}
	rd, nv := decodeMeta(&e, len(rot.OldKey), &old.Meta)
	var cur uint64
	switch old.UserID {
	case "":
	case rot.Meta.UserID:
		cur = prevGen
	case other.user:
		cur = other.gen
	default:
		cur = old.Generation + 1 // replaced meanwhile by another user's record
	}
	if err := rot.CheckOld(old, cur); err != nil {
		return nil, err
	}
	old.Values = make(map[string][]byte, nv)
	for range nv {
		k, v := rd.Next()
		old.Values[k] = []byte(v)
	}
	return old, nil
}

// writeRotation stores the renewed record and the old one's tombstone
// (steps 4 and 5); the caller holds both shards' locks and, in held, the
// place admit reserved.
func (s *Store) writeRotation(rot *storekit.Rotation, ru *rotUser, old *storekit.Record, family string, held *bool) {
	var userGen uint64
	if ru.u != nil {
		userGen = ru.u.gen
		ru.u.add(rot.NewKey)
	}
	r := rot.Renewed(old, userGen)
	r.Family = ""
	if family != rot.NewKey {
		r.Family = family // a family that is its own key is stored as ""
	}
	ne := encodeRecord(rot.NewKey, &r.Meta, r.Values)
	if ru.u != nil {
		ne.epoch = s.epochs[ne.bucket].Load()
		if r.Generation < userGen {
			ne.epoch-- // stale on arrival: make check look it up
		}
	}
	s.putHeld(s.shard(rot.NewKey), rot.NewKey, ne, held)
	if rot.OldKey == "" {
		return
	}
	oldSh := s.shard(rot.OldKey)
	s.drop(oldSh, rot.OldKey)
	if t, until, ok := rot.Tombstone(old); ok {
		s.put(oldSh, rot.OldKey, encodeTomb(rot.OldKey, stateRotated, t.At, until, &storekit.Meta{Family: t.Family}, t.Next))
	}
}

// evict ends the sessions of userID in victims (the cap). The caller holds
// the user shard's lock.
func (s *Store) evict(userID string, u *memUser, victims []storekit.IndexedRecord, now int64) {
	for _, v := range victims {
		k := v.Key
		sh := s.shard(k)
		sh.mu.Lock()
		if e, ok := sh.m[k]; ok && e.hasUser && e.state == stateLive {
			if owner, _ := entryUser(&e, len(k)); owner == userID {
				s.end(sh, k, stateDestroyed, now)
			}
		}
		sh.mu.Unlock()
		u.remove(k)
	}
}
