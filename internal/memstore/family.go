package memstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/sessionkit/session/internal/storekit"
)

// Families in the memory store: a striped map from a family (Meta.Family)
// to its live key, for the families whose live key is not the family
// itself (renewed cookie sessions, every header session). Lock order, as
// everywhere in the store: a user's lock, then a family's, then shards.
// Entries whose key is no longer live are pruned by the sweeper, one
// stripe per shard visit, and replaced by the next renewal.

type famShard struct {
	mu sync.Mutex
	m  map[string]string
}

// famShard returns the stripe of family.
func (s *Store) famShard(family string) *famShard {
	return &s.fams[fnv32(family)%memShards]
}

// lockFamily takes the lock of family when its live key may differ from it
// (so that Rotate, Create and EndFamily of one family are serialized) and
// returns the stripe, nil for a family that is its own key (no entry, no
// lock). The caller points the family with setFamily on success and
// unlocks with unlockFamily.
func (s *Store) lockFamily(family, key string) *famShard {
	if family == "" || family == key {
		return nil
	}
	fs := s.famShard(family)
	fs.mu.Lock()
	return fs
}

// setFamily makes key the live key of family; fs is lockFamily's.
func setFamily(fs *famShard, family, key string) {
	if fs == nil {
		return
	}
	if fs.m == nil {
		fs.m = make(map[string]string)
	}
	fs.m[family] = key
}

// unlockFamily releases lockFamily's lock.
func unlockFamily(fs *famShard) {
	if fs != nil {
		fs.mu.Unlock()
	}
}

// familyKey returns the key the family's live record would be under.
func (s *Store) familyKey(family string) string {
	fs := s.famShard(family)
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if k, ok := fs.m[family]; ok {
		return k
	}
	return family
}

// Family implements session.Rotator.
func (s *Store) Family(ctx context.Context, family string) (string, *storekit.Record, error) {
	if family == "" {
		return "", nil, fmt.Errorf("memory store: family: empty family: %w", storekit.ErrNotFound)
	}
	key := s.familyKey(family)
	r, err := s.Load(ctx, key)
	if err != nil {
		return "", nil, fmt.Errorf("memory store: family: %w", storekit.ErrNotFound)
	}
	if storekit.FamilyOf(key, &r.Meta) != family {
		return "", nil, fmt.Errorf("memory store: family: %w", storekit.ErrNotFound)
	}
	return key, r, nil
}

// EndFamily implements session.Rotator. It holds the family's lock while it ends
// the live record, so a Rotate of the family (which takes the same lock)
// runs wholly before it, and is ended, or wholly after, and finds its old
// record gone.
func (s *Store) EndFamily(ctx context.Context, family string) (*storekit.IndexedRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: end family: %w", err)
	}
	if family == "" {
		return nil, fmt.Errorf("memory store: end family: empty family: %w", storekit.ErrNotFound)
	}
	now := s.now().UnixNano()
	fs := s.famShard(family)
	fs.mu.Lock()
	key, pointed := fs.m[family]
	if !pointed {
		key = family
	}
	sh := s.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[key]
	var meta storekit.Meta
	if ok && e.state == stateLive {
		decodeMeta(&e, len(key), &meta)
	}
	if !ok || e.state != stateLive || now >= e.expires || s.revokedByAll(&e, len(key)) || storekit.FamilyOf(key, &meta) != family {
		sh.mu.Unlock()
		fs.mu.Unlock()
		return nil, fmt.Errorf("memory store: end family: %w", storekit.ErrNotFound)
	}
	user := s.end(sh, key, stateDestroyed, now)
	sh.mu.Unlock()
	if pointed {
		delete(fs.m, family)
	}
	fs.mu.Unlock()
	if user != "" {
		s.unindex(user, key)
		if meta.Generation < s.generation(user) {
			// Revoked already: ended now for good, but nothing was live.
			return nil, fmt.Errorf("memory store: end family: revoked: %w", storekit.ErrNotFound)
		}
	}
	return &storekit.IndexedRecord{Key: key, Meta: meta}, nil
}

// sweepFamilies drops the family entries of stripe i whose key no longer
// holds a live record of the family.
func (s *Store) sweepFamilies(i int) {
	fs := &s.fams[i]
	now := s.now().UnixNano()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for family, key := range fs.m {
		sh := s.shard(key)
		sh.mu.RLock()
		e, ok := sh.m[key]
		live := ok && e.state == stateLive && now < e.expires
		sh.mu.RUnlock()
		if !live {
			delete(fs.m, family)
		}
	}
}
