package session

import (
	"context"
	"fmt"
	"slices"

	"github.com/sessionkit/session/internal/storekit"
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

func (s *MemoryStore) unindex(userID, key string) {
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

// UserSessions implements UserIndex.
func (s *MemoryStore) UserSessions(ctx context.Context, userID string) ([]IndexedRecord, error) {
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
func (s *MemoryStore) liveSessions(userID string, keys []string, now int64, locked bool) (live []IndexedRecord, dead []string) {
	live = make([]IndexedRecord, 0, len(keys))
	for _, k := range keys {
		sh := s.shard(k)
		sh.mu.RLock()
		e, ok := sh.m[k]
		sh.mu.RUnlock()
		var meta Meta
		if ok && e.state == stateLive {
			decodeMeta(&e, len(k), &meta)
		}
		if meta.UserID != userID || now >= e.expires {
			dead = append(dead, k)
			continue
		}
		if locked {
			if meta.Generation < s.userShard(userID).m[userID].gen {
				dead = append(dead, k)
				continue
			}
		} else if state, _, _ := s.check(&e, len(k), now); state != entryLive {
			dead = append(dead, k)
			continue
		}
		live = append(live, IndexedRecord{Key: k, Meta: meta})
	}
	return live, dead
}

// RevokeUser implements UserIndex: the generation bump makes every earlier
// session of the user unloadable at once; the indexed ones are also replaced
// by EndRevoked tombstones.
func (s *MemoryStore) RevokeUser(ctx context.Context, userID string) error {
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
func (s *MemoryStore) revokeLocked(u *memUser, userID string) []string {
	u.gen++
	// After the generation: see check.
	s.epochs[epochBucket(userID)].Add(1)
	keys := u.list()
	u.keys, u.big = nil, nil
	return keys
}

// endRevoked replaces the sessions of userID among keys whose generation is
// older than gen by tombstones.
func (s *MemoryStore) endRevoked(userID string, keys []string, gen uint64, now int64) {
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

// Rotate implements Rotator. It holds the lock of the new record's user for
// the whole step, so renewals, revocations and the cap of one user are
// serialized, and the locks of the old and new keys' shards while it checks
// the old record and replaces it.
func (s *MemoryStore) Rotate(ctx context.Context, rot *Rotation) ([]IndexedRecord, error) {
	const op = "rotate"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: %s: %w", op, err)
	}
	now := s.now().UnixNano()
	userID := rot.Meta.UserID
	if err := s.admit(userID != ""); err != nil {
		return nil, fmt.Errorf("memory store: %s: %w", op, err)
	}
	defer s.admitted()
	// The old record's generation, when it belongs to another user, is read
	// before any lock (locks are taken user first, then shards). A
	// revocation of that user landing meanwhile is harmless: the old ID
	// ends here anyway, and the new record is the new user's.
	var otherGen uint64
	var otherUser string
	if rot.OldKey != "" {
		sh := s.shard(rot.OldKey)
		sh.mu.RLock()
		e, ok := sh.m[rot.OldKey]
		sh.mu.RUnlock()
		if ok && e.hasUser && e.state == stateLive {
			if u, _ := entryUser(&e, len(rot.OldKey)); u != userID {
				otherUser, otherGen = u, s.generation(u)
			}
		}
	}

	var u *memUser
	var prevGen uint64
	var victims []IndexedRecord
	if userID != "" {
		us := s.userShard(userID)
		us.mu.Lock()
		defer us.mu.Unlock()
		u = us.user(userID)
		prevGen = u.gen
		if rot.RevokeUser {
			revoked := s.revokeLocked(u, userID)
			defer s.endRevoked(userID, revoked, u.gen, now)
		}
		if rot.MaxSessions > 0 {
			live, dead := s.liveSessions(userID, u.list(), now, true)
			for _, k := range dead {
				u.remove(k)
			}
			var err error
			if victims, err = rot.Victims(live); err != nil {
				return nil, fmt.Errorf("memory store: %s: %w", op, err)
			}
			if len(victims) > 0 {
				defer func() { s.evict(userID, u, victims, now) }()
			}
		}
	}

	// The family's lock, then the old and new shards in index order.
	family := storekit.FamilyOf(rot.NewKey, &rot.Meta)
	fs := s.lockFamily(family, rot.NewKey)
	defer unlockFamily(fs)
	newSh := s.shard(rot.NewKey)
	shards := []*memShard{newSh}
	if rot.OldKey != "" {
		if oldSh := s.shard(rot.OldKey); oldSh != newSh {
			shards = append(shards, oldSh)
			if fnv32(rot.OldKey)%memShards < fnv32(rot.NewKey)%memShards {
				shards[0], shards[1] = oldSh, newSh
			}
		}
	}
	for _, sh := range shards {
		sh.mu.Lock()
	}
	unlock := func() {
		for _, sh := range shards {
			sh.mu.Unlock()
		}
	}

	var old *Record
	if rot.OldKey != "" {
		e, ok := s.shard(rot.OldKey).m[rot.OldKey]
		if !ok || e.state != stateLive || now >= e.expires || s.revokedByAll(&e, len(rot.OldKey)) {
			unlock()
			victims = nil
			return nil, fmt.Errorf("memory store: %s: %w", op, ErrNotFound)
		}
		old = &Record{}
		rd, nv := decodeMeta(&e, len(rot.OldKey), &old.Meta)
		var cur uint64
		switch old.UserID {
		case "":
		case userID:
			cur = prevGen // before this rotation's own revocation
		case otherUser:
			cur = otherGen
		default:
			cur = old.Generation + 1 // replaced meanwhile by another user's record
		}
		if old.Generation < cur {
			unlock()
			victims = nil
			return nil, fmt.Errorf("memory store: %s: revoked: %w", op, ErrNotFound)
		}
		old.Values = make(map[string][]byte, nv)
		for range nv {
			k, v := rd.Next()
			old.Values[k] = []byte(v)
		}
	}
	r := rot.NewRecord(old)
	r.Family = ""
	if family != rot.NewKey {
		r.Family = family // a family that is its own key is stored as ""
	}
	if userID != "" {
		if old == nil || old.UserID != userID || rot.RevokeUser {
			r.Generation = u.gen
		}
		u.add(rot.NewKey)
	}
	ne := encodeRecord(rot.NewKey, &r.Meta, r.Values)
	if userID != "" {
		ne.epoch = s.epochs[ne.bucket].Load()
		if r.Generation < u.gen {
			ne.epoch-- // stale on arrival: make check look it up
		}
	}
	s.put(newSh, rot.NewKey, ne)
	if rot.OldKey != "" {
		oldSh := s.shard(rot.OldKey)
		s.drop(oldSh, rot.OldKey)
		if at := rot.Meta.LastSeen; old.Linger > 0 {
			s.put(oldSh, rot.OldKey, encodeTomb(rot.OldKey, stateRotated, at, at.Add(old.Linger), &Meta{Family: family}, rot.NewKey))
		}
	}
	setFamily(fs, family, rot.NewKey)
	unlock()
	if old != nil && u != nil && old.UserID == userID {
		u.remove(rot.OldKey)
	} // another user's index entry is pruned by its next listing

	return slices.Clone(victims), nil
}

// evict ends the sessions of userID in victims (the cap). The caller holds
// the user shard's lock.
func (s *MemoryStore) evict(userID string, u *memUser, victims []IndexedRecord, now int64) {
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
