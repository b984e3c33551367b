// Package memstore is the engine of package session's MemoryStore: the
// sharded in-memory store, its user index, families, sweeper and bound.
// Package session re-exports it (MemoryStore is Store, NewMemoryStore is
// New) and gives it the Manager's clock (UseClock); it depends only on
// internal/storekit, internal/memblock and the standard library.
//
// Lock order, everywhere: a user's lock, then a family's, then the shards
// of keys in index order. A shard lock is never held while a user's lock is
// taken.
package memstore

import (
	"context"
	"fmt"
	"slices"
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
// Store.epochs).
const memEpochBuckets = 1024

// memSmallUser is the number of sessions a user's index keeps in a slice
// before switching to a map.
const memSmallUser = 16

// Store is an in-memory session.Store for one process: sharded, safe for
// concurrent use, with expired records removed in the background. It also
// implements session.UserIndex, session.Rotator (renewal and the per-user
// cap under the user's lock) and session.Fleet, and keeps a
// storekit.Tombstone of each ended record for its Linger. Records are lost
// when the process exits; use the Redis store to share sessions between
// processes or survive restarts.
//
// Records are held in a compact form (timestamps as integers, metadata and
// values packed into two immutable blocks), a few hundred bytes for a small
// logged-in session, so a million sessions fit in a few hundred megabytes
// and put little pointer-chasing work on the garbage collector.
type Store struct {
	// clock is the store's time source: time.Now, or the Manager's
	// Config.Clock once a Manager is built on the store (see UseClock).
	clock  atomic.Pointer[func() time.Time]
	shards [memShards]memShard
	users  [memShards]userShard
	// fams maps a family to its live key where they differ (see
	// family.go).
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
	count atomic.Int64
	tombs atomic.Int64
	// used is count plus the places admit has reserved for creates not
	// stored yet: the one number admit compares with the bound, changed
	// by compare-and-swap there (see admit).
	used       atomic.Int64
	maxEntries int64

	// onExpired is NotifyExpired's callback, nil for none.
	onExpired atomic.Pointer[func(context.Context, storekit.IndexedRecord)]

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
// block's layout is internal/memblock's (block.go converts).
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

// Option configures a Store.
type Option func(*Store)

// WithClock sets the store's clock (default time.Now): tests of the store
// alone. A Manager gives its store Config.Clock through UseClock.
func WithClock(now func() time.Time) Option {
	return func(s *Store) { UseClock(s, now) }
}

// UseClock makes now the clock of s (nil: no change). package session's New
// calls it with Config.Clock, so the Manager and its memory store share one
// clock. It is a function, not a method, so that it is no part of the
// MemoryStore API users see.
func UseClock(s *Store, now func() time.Time) {
	if now != nil {
		s.clock.Store(&now)
	}
}

// now reads the store's clock.
func (s *Store) now() time.Time { return (*s.clock.Load())() }

// WithSweepInterval sets how often the background sweeper removes expired
// records (default one minute; zero or negative disables the sweeper,
// expired records are then only hidden, and removed when touched).
func WithSweepInterval(d time.Duration) Option {
	return func(s *Store) { s.sweepEvery = d }
}

// New returns an empty in-memory store and starts its sweeper.
// Call Close to stop the sweeper.
func New(opts ...Option) *Store {
	s := &Store{sweepEvery: time.Minute, maxEntries: defaultMaxRecords(), stop: make(chan struct{}), done: make(chan struct{})}
	UseClock(s, time.Now)
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
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Records returns the number of records s holds, expired ones not yet
// swept included; tombstones are not records (tests of the sweeper; users
// count live sessions with Count).
func Records(s *Store) int { return int(s.count.Load() - s.tombs.Load()) }

// Ping is the store's readiness check: an in-process store
// answers as long as it is open, so it reports only a done ctx or a closed
// store.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: ping: %w", err)
	}
	select {
	case <-s.stop:
		return fmt.Errorf("memory store: ping: closed: %w", storekit.ErrStore)
	default:
		return nil
	}
}

// fnv32 is FNV-1a: a fast, allocation-free spread of arbitrary keys.
func fnv32(k string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(k); i++ {
		h ^= uint32(k[i])
		h *= 16777619
	}
	return h
}

func (s *Store) shard(key string) *memShard    { return &s.shards[fnv32(key)%memShards] }
func (s *Store) userShard(u string) *userShard { return &s.users[fnv32(u)%memShards] }

// epochBucket spreads users over the epoch counters, independently of the
// user shards.
func epochBucket(userID string) uint16 {
	return uint16((fnv32(userID) >> 8) % memEpochBuckets)
}

func (s *Store) generation(userID string) uint64 {
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
	r   storekit.Record
	buf [64]byte
}

// Load implements session.Store. The record's values share one new buffer; nothing
// the caller does to them reaches the store. A key whose session ended
// within its Linger reports its Tombstone.
func (s *Store) Load(ctx context.Context, key string) (*storekit.Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: load: %w", err)
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.RLock()
	e, ok := sh.m[key]
	sh.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memory store: load: %w", storekit.ErrNotFound)
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

// Create implements session.Store. It indexes the record under its user and stamps
// the user's current generation. A new anonymous record is refused with
// ErrCapacity once the store is near its bound (see WithMaxRecords).
func (s *Store) Create(ctx context.Context, key string, r *storekit.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: create: %w", err)
	}
	if !s.now().Before(r.Expires) {
		return s.Delete(ctx, key) // a past deadline deletes, never stores
	}
	held, err := s.admit(r.UserID != "")
	if err != nil {
		return fmt.Errorf("memory store: create: %w", err)
	}
	defer s.admitted(&held)
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
	old, had := s.putHeld(sh, key, e, &held)
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
func encodeRecord(key string, meta *storekit.Meta, values map[string][]byte) memEntry {
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

// Update implements session.Store: the delta is merged under the shard
// lock, so concurrent updates of distinct keys all survive, and only the
// metadata fields the delta carries change.
func (s *Store) Update(ctx context.Context, key string, d *storekit.Delta) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: update: %w", err)
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	e, err := s.lockCurrent(sh, key, now)
	if err != nil {
		return fmt.Errorf("memory store: update: %w", err)
	}
	var meta storekit.Meta
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
	keys, vals = mergeValues(keys, vals, d)
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

// lockCurrent locks sh and returns the live, current entry under key, or
// an error wrapping ErrNotFound (with sh unlocked).
func (s *Store) lockCurrent(sh *memShard, key string, now int64) (memEntry, error) {
	for {
		sh.mu.Lock()
		e, ok := sh.m[key]
		if !ok || e.state != stateLive || now >= e.expires || s.revokedByAll(&e, len(key)) {
			sh.mu.Unlock()
			return memEntry{}, storekit.ErrNotFound
		}
		if !e.hasUser {
			return e, nil
		}
		ep := s.epochs[e.bucket].Load()
		if ep == e.epoch {
			return e, nil
		}
		// The user's generation is read under the user's lock, which is
		// never taken while a shard lock is held (Rotate takes them the
		// other way round): check it outside, record the check in the
		// entry's epoch, and look again.
		sh.mu.Unlock()
		user, gen := entryUser(&e, len(key))
		if gen < s.generation(user) {
			return memEntry{}, fmt.Errorf("revoked: %w", storekit.ErrNotFound)
		}
		s.refreshEpoch(sh, key, &e, ep)
	}
}

// mergeValues applies the deletions and sets of d to the parallel lists
// keys and vals.
func mergeValues(keys []string, vals []memblock.Val, d *storekit.Delta) ([]string, []memblock.Val) {
	for _, k := range d.Delete {
		if i := slices.Index(keys, k); i >= 0 {
			keys = slices.Delete(keys, i, i+1)
			vals = slices.Delete(vals, i, i+1)
		}
	}
	for k, v := range d.Set {
		if i := slices.Index(keys, k); i >= 0 {
			vals[i] = memblock.Val{B: v} // copied into the new block
			continue
		}
		keys = append(keys, k)
		vals = append(vals, memblock.Val{B: v})
	}
	return keys, vals
}

// Delete implements session.Store. The record becomes an EndDestroyed tombstone for
// its Linger.
func (s *Store) Delete(ctx context.Context, key string) error {
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
