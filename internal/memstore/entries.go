package memstore

import (
	"fmt"

	"github.com/sessionkit/session/internal/storekit"
)

// Liveness and replacement of the memory store's entries: whether an entry
// is live, expired or revoked, the Tombstone a Load reports for one that is
// not, and the counted put, drop and end of entries under a shard lock.

// Results of check.
const (
	entryLive = iota
	entryExpired
	entryRevoked
)

// check reports whether e (stored under a key of length klen, not a
// tombstone) is live at now, expired or revoked, and whether its epoch may be
// refreshed to ep (the generation was verified the slow way).
func (s *Store) check(e *memEntry, klen int, now int64) (state int, refresh bool, ep uint32) {
	if now >= e.expires {
		return entryExpired, false, 0
	}
	if s.revokedByAll(e, klen) {
		return entryRevoked, false, 0
	}
	if !e.hasUser {
		return entryLive, false, 0
	}
	// Read the epoch before the generation: a revocation that bumps the
	// generation afterwards also bumps the epoch, so the refreshed value
	// can never hide it.
	ep = s.epochs[e.bucket].Load()
	if ep == e.epoch {
		return entryLive, false, 0
	}
	user, gen := entryUser(e, klen)
	if gen < s.generation(user) {
		return entryRevoked, false, 0
	}
	return entryLive, true, ep
}

// gone returns the error for an entry that is not live: its Tombstone while
// it lingers, plain ErrNotFound after.
func (s *Store) gone(op, key string, e *memEntry, state int, now int64) error {
	var t *storekit.Tombstone
	switch {
	case e.state != stateLive:
		if now < e.expires {
			t = decodeTomb(e, len(key))
		}
	case state == entryExpired:
		if te, ok := expiredTomb(key, e, now); ok {
			t = decodeTomb(&te, len(key))
		}
	case state == entryRevoked:
		t = &storekit.Tombstone{Reason: storekit.EndRevoked}
	}
	if t == nil {
		return fmt.Errorf("memory store: %s: %w", op, storekit.ErrNotFound)
	}
	return fmt.Errorf("memory store: %s: %w", op, t)
}

// refreshEpoch records that e's generation was found current at epoch ep,
// if the entry under key still holds the same record.
func (s *Store) refreshEpoch(sh *memShard, key string, e *memEntry, ep uint32) {
	sh.mu.Lock()
	if cur, ok := sh.m[key]; ok && cur.blob == e.blob {
		cur.epoch = ep
		sh.m[key] = cur
	}
	sh.mu.Unlock()
}

// put stores e under key; the caller holds sh's lock. It keeps the entry
// counts and reports the entry it replaced.
func (s *Store) put(sh *memShard, key string, e memEntry) (old memEntry, had bool) {
	return s.putHeld(sh, key, e, nil)
}

// putHeld is put for a create holding a reservation of admit (held, nil
// for none): a new entry takes the reserved place instead of a new one.
func (s *Store) putHeld(sh *memShard, key string, e memEntry, held *bool) (old memEntry, had bool) {
	old, had = sh.m[key]
	sh.m[e.blob[:len(key)]] = e // the map's key shares the block
	if !had {
		s.count.Add(1)
		if held != nil && *held {
			*held = false // the reserved place is now this entry
		} else {
			s.used.Add(1)
		}
	} else if old.state != stateLive {
		s.tombs.Add(-1)
	}
	if e.state != stateLive {
		s.tombs.Add(1)
	}
	return old, had
}

// drop deletes key; the caller holds sh's lock.
func (s *Store) drop(sh *memShard, key string) (old memEntry, had bool) {
	old, had = sh.m[key]
	if had {
		delete(sh.m, key)
		s.count.Add(-1)
		s.used.Add(-1)
		if old.state != stateLive {
			s.tombs.Add(-1)
		}
	}
	return old, had
}

// end replaces the live entry under key by a tombstone of the given state,
// dated at and kept for the entry's Linger (or deletes it when it has none,
// or the store is near its bound). The caller holds sh's lock. It returns
// the replaced entry's user, "" if none.
func (s *Store) end(sh *memShard, key string, state uint8, at int64) string {
	e, ok := sh.m[key]
	if !ok || e.state != stateLive {
		return ""
	}
	user := ""
	if e.hasUser {
		user, _ = entryUser(&e, len(key))
	}
	var meta storekit.Meta
	decodeMeta(&e, len(key), &meta)
	if meta.Linger <= 0 || s.count.Load() >= s.anonLimit() {
		s.drop(sh, key)
		return user
	}
	t := fromUnixNano(at)
	s.put(sh, key, encodeTomb(key, state, t, t.Add(meta.Linger), nil, ""))
	return user
}
