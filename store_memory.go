package session

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session/internal/memblock"
	"github.com/sessionkit/session/internal/storekit"
)

// memShards is the number of independently locked shards: enough that two
// cores never queue on one lock, and small enough that sweeping one shard
// holds its lock only briefly even with millions of sessions.
const memShards = 256

// memSweepBatch bounds how many entries the sweeper visits per hold of a
// shard lock, so a mass expiry never stalls the requests of that shard for
// long.
const memSweepBatch = 256

// memEpochBuckets is the number of revocation epoch counters (see
// MemoryStore.epochs).
const memEpochBuckets = 1024

// memSmallUser is the number of sessions a user's index keeps in a slice
// before switching to a map.
const memSmallUser = 16

// MemoryStore is an in-memory Store for one process: sharded, safe for
// concurrent use, with expired records removed in the background. It also
// implements UserIndex and Rotator (renewal and the per-user cap under the
// user's lock), and keeps a Tombstone of each ended record for its Linger. Records are lost when the process exits; use the
// Redis store to share sessions between processes or survive restarts.
//
// Records are held in a compact form (timestamps as integers, metadata and
// values packed into two immutable blocks), a few hundred bytes for a small
// logged-in session, so a million sessions fit in a few hundred megabytes
// and put little pointer-chasing work on the garbage collector.
type MemoryStore struct {
	// clock is the store's time source: time.Now, or the Manager's
	// Config.Clock once a Manager is built on the store (see useClock).
	clock  atomic.Pointer[func() time.Time]
	shards [memShards]memShard
	users  [memShards]userShard
	// fams maps a family to its live key where they differ (see
	// store_memory_family.go).
	fams [memShards]famShard
	// cutoff is RevokeAll's: records created before it (unix ns) are
	// revoked; 0 when RevokeAll was never called.
	cutoff atomic.Int64
	// epochs[b] changes whenever a user hashing to bucket b is revoked. An
	// entry remembers the epoch of its bucket when its generation was last
	// checked; while it is unchanged, no revocation can have touched the
	// entry's user and the per-user generation lookup is skipped.
	epochs [memEpochBuckets]atomic.Uint32

	// count is the number of entries (records and tombstones); maxEntries
	// bounds it (see WithMaxRecords).
	count      atomic.Int64
	tombs      atomic.Int64
	inflight   atomic.Int64 // creates between admit and their put
	maxEntries int64

	sweepEvery time.Duration
	stop       chan struct{}
	done       chan struct{}
	closeOnce  sync.Once
}

type memShard struct {
	mu sync.RWMutex
	m  map[string]memEntry
	_  [32]byte // pad to 64 bytes: neighbouring shard locks on separate cache lines
}

// memEntry is a stored record, held by value in the shard map. Everything
// but the expiry lives in one immutable string block, replaced (never
// modified) by updates, that starts with the record's key: the shard map's
// key is a substring of the block, so comparing keys on lookup already brings
// the record into the cache, and a small record is one allocation. The
// block's layout is internal/memblock's (store_memory_block.go converts).
type memEntry struct {
	expires int64  // unix ns; the sweeper reads only this
	epoch   uint32 // epochs[bucket] when the generation was last known good
	bucket  uint16 // epoch bucket of the user
	hasUser bool
	state   uint8 // stateLive, or the reason of a tombstone
	blob    string
}

type userShard struct {
	mu sync.RWMutex
	m  map[string]*memUser
}

// memUser is a user's revocation generation and session index. Most users
// have a few sessions, kept in a slice; past memSmallUser they move to a map.
// An empty string in keys is a free slot.
type memUser struct {
	gen  uint64
	keys []string
	big  map[string]struct{}
}

// MemoryOption configures a MemoryStore.
type MemoryOption func(*MemoryStore)

// withMemoryClock sets the store's clock (tests of the store alone; a
// Manager gives the store its Config.Clock, see useClock).
func withMemoryClock(now func() time.Time) MemoryOption {
	return func(s *MemoryStore) { s.useClock(now) }
}

// useClock makes now the store's clock (nil: no change). New calls it with
// Config.Clock, so the Manager and its memory store share one clock.
func (s *MemoryStore) useClock(now func() time.Time) {
	if now != nil {
		s.clock.Store(&now)
	}
}

// now reads the store's clock.
func (s *MemoryStore) now() time.Time { return (*s.clock.Load())() }

// WithSweepInterval sets how often the background sweeper removes expired
// records (default one minute; zero or negative disables the sweeper,
// expired records are then only hidden, and removed when touched).
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(s *MemoryStore) { s.sweepEvery = d }
}

// NewMemoryStore returns an empty in-memory store and starts its sweeper.
// Call Close to stop the sweeper.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	s := &MemoryStore{sweepEvery: time.Minute, maxEntries: defaultMaxRecords(), stop: make(chan struct{}), done: make(chan struct{})}
	s.useClock(time.Now)
	for _, o := range opts {
		o(s)
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string]memEntry)
		s.users[i].m = make(map[string]*memUser)
	}
	if s.sweepEvery > 0 {
		go s.sweeper()
	} else {
		close(s.done)
	}
	return s
}

// Close stops the background sweeper. The store remains usable.
func (s *MemoryStore) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Len returns the number of records held, expired ones not yet swept
// included; tombstones are not records.
func (s *MemoryStore) Len() int { return int(s.count.Load() - s.tombs.Load()) }

// fnv32 is FNV-1a: a fast, allocation-free spread of arbitrary keys.
func fnv32(k string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return h
}

func (s *MemoryStore) shard(key string) *memShard    { return &s.shards[fnv32(key)%memShards] }
func (s *MemoryStore) userShard(u string) *userShard { return &s.users[fnv32(u)%memShards] }

// epochBucket spreads users over the epoch counters, independently of the
// user shards.
func epochBucket(userID string) uint16 {
	return uint16((fnv32(userID) >> 8) % memEpochBuckets)
}

func (s *MemoryStore) generation(userID string) uint64 {
	us := s.userShard(userID)
	us.mu.RLock()
	defer us.mu.RUnlock()
	if u := us.m[userID]; u != nil {
		return u.gen
	}
	return 0
}

// --- Store ---

// recordBuf is a Record and room for its small values in one allocation
// (256 bytes, a size class).
type recordBuf struct {
	r   Record
	buf [64]byte
}

// Load implements Store. The record's values share one new buffer; nothing
// the caller does to them reaches the store. A key whose session ended
// within its Linger reports its Tombstone.
func (s *MemoryStore) Load(ctx context.Context, key string) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: load: %w", err)
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.RLock()
	e, ok := sh.m[key]
	sh.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memory store: load: %w", ErrNotFound)
	}
	if e.state != stateLive {
		return nil, s.gone("load", key, &e, entryExpired, now)
	}
	// The block is immutable: it is read without the lock.
	state, refresh, ep := s.check(&e, len(key), now)
	if state != entryLive {
		return nil, s.gone("load", key, &e, state, now)
	}
	if refresh {
		s.refreshEpoch(sh, key, &e, ep)
	}
	rb := &recordBuf{}
	r := &rb.r
	rd, nv := decodeMeta(&e, len(key), &r.Meta)
	r.Values = make(map[string][]byte, nv)
	if nv == 0 {
		return r, nil
	}
	// One buffer for all values (the rest of the block is an upper bound),
	// inside the Record's own allocation when they are small.
	var buf []byte
	if n := rd.Rest(); n <= len(rb.buf) {
		buf = rb.buf[:0:n]
	} else {
		buf = make([]byte, 0, n)
	}
	for range nv {
		k, v := rd.Next()
		at := len(buf)
		buf = append(buf, v...)
		r.Values[k] = buf[at:len(buf):len(buf)]
	}
	return r, nil
}

// Create implements Store. It indexes the record under its user and stamps
// the user's current generation. A new anonymous record is refused with
// ErrCapacity once the store is near its bound (see WithMaxRecords).
func (s *MemoryStore) Create(ctx context.Context, key string, r *Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: create: %w", err)
	}
	if !s.now().Before(r.Expires) {
		return s.Delete(ctx, key) // a past deadline deletes, never stores
	}
	if err := s.admit(r.UserID != ""); err != nil {
		return fmt.Errorf("memory store: create: %w", err)
	}
	defer s.admitted()
	meta := r.Meta
	if meta.Family == key {
		meta.Family = "" // its own key: see familyOf
	}
	var ep uint32
	if meta.UserID != "" {
		ep = s.epochs[epochBucket(meta.UserID)].Load() // before the generation: see check
		us := s.userShard(meta.UserID)
		us.mu.Lock()
		u := us.user(meta.UserID)
		meta.Generation = u.gen
		u.add(key)
		us.mu.Unlock()
	}
	e := encodeRecord(key, &meta, r.Values)
	e.epoch = ep
	fs := s.lockFamily(meta.Family, key)
	sh := s.shard(key)
	sh.mu.Lock()
	old, had := s.put(sh, key, e)
	sh.mu.Unlock()
	setFamily(fs, meta.Family, key)
	unlockFamily(fs)
	if had && old.hasUser {
		if u, _ := entryUser(&old, len(key)); u != meta.UserID {
			s.unindex(u, key)
		}
	}
	return nil
}

// encodeRecord packs a record given as a map.
func encodeRecord(key string, meta *Meta, values map[string][]byte) memEntry {
	var kbuf [memMaxInline]string
	var vbuf [memMaxInline]memblock.Val
	keys, vals := kbuf[:0], vbuf[:0]
	for k, v := range values {
		keys = append(keys, k)
		vals = append(vals, memblock.Val{B: v})
	}
	return encodeEntry(key, meta, keys, vals)
}

// memMaxInline is the number of values Create and Update handle without
// allocating their working lists.
const memMaxInline = 8

// Update implements Store: the delta is merged under the shard lock, so
// concurrent updates of distinct keys all survive, and only the metadata
// fields the delta carries change.
func (s *MemoryStore) Update(ctx context.Context, key string, d *Delta) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: update: %w", err)
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	var e memEntry
	for {
		sh.mu.Lock()
		var ok bool
		e, ok = sh.m[key]
		if !ok || e.state != stateLive || now >= e.expires || s.revokedByAll(&e, len(key)) {
			sh.mu.Unlock()
			return fmt.Errorf("memory store: update: %w", ErrNotFound)
		}
		if !e.hasUser {
			break
		}
		ep := s.epochs[e.bucket].Load()
		if ep == e.epoch {
			break
		}
		// The user's generation is read under the user's lock, which is
		// never taken while a shard lock is held (Rotate takes them the
		// other way round): check it outside, record the check in the
		// entry's epoch, and look again.
		sh.mu.Unlock()
		user, gen := entryUser(&e, len(key))
		if gen < s.generation(user) {
			return fmt.Errorf("memory store: update: revoked: %w", ErrNotFound)
		}
		s.refreshEpoch(sh, key, &e, ep)
	}
	var meta Meta
	rd, nv := decodeMeta(&e, len(key), &meta)
	var kbuf [memMaxInline]string
	var vbuf [memMaxInline]memblock.Val
	keys, vals := kbuf[:0], vbuf[:0]
	if !d.Clear {
		for range nv {
			k, v := rd.Next()
			keys = append(keys, k)
			vals = append(vals, memblock.Val{S: v})
		}
	}
	for _, k := range d.Delete {
		for i := range keys {
			if keys[i] == k {
				keys = append(keys[:i], keys[i+1:]...)
				vals = append(vals[:i], vals[i+1:]...)
				break
			}
		}
	}
outer:
	for k, v := range d.Set {
		for i := range keys {
			if keys[i] == k {
				vals[i] = memblock.Val{B: v} // copied into the new block
				continue outer
			}
		}
		keys = append(keys, k)
		vals = append(vals, memblock.Val{B: v})
	}
	storekit.ApplyMeta(d, &meta)
	ne := encodeEntry(key, &meta, keys, vals)
	ne.epoch = e.epoch
	if now >= ne.expires {
		if te, ok := expiredTomb(key, &ne, now); ok {
			s.put(sh, key, te)
		} else {
			s.drop(sh, key)
		}
	} else {
		s.put(sh, key, ne) // replaces the key too: the old block is freed
	}
	sh.mu.Unlock()
	if now >= ne.expires && ne.hasUser {
		s.unindex(meta.UserID, key)
	}
	return nil
}

// Delete implements Store. The record becomes an EndDestroyed tombstone for
// its Linger.
func (s *MemoryStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: delete: %w", err)
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	user := s.end(sh, key, stateDestroyed, now)
	sh.mu.Unlock()
	if user != "" {
		s.unindex(user, key)
	}
	return nil
}
