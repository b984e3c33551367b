package session

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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
// implements UserIndex. Records are lost when the process exits; use the
// Redis store to share sessions between processes or survive restarts.
//
// Records are held in a compact form (timestamps as integers, metadata and
// values packed into two immutable blocks), a few hundred bytes for a small
// logged-in session, so a million sessions fit in a few hundred megabytes
// and put little pointer-chasing work on the garbage collector.
type MemoryStore struct {
	now    func() time.Time
	shards [memShards]memShard
	users  [memShards]userShard
	// epochs[b] changes whenever a user hashing to bucket b is revoked. An
	// entry remembers the epoch of its bucket when its generation was last
	// checked; while it is unchanged, no revocation can have touched the
	// entry's user and the per-user generation lookup is skipped.
	epochs [memEpochBuckets]atomic.Uint32

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
// the record into the cache, and a small record is one allocation.
//
//	blob: key | CreatedAt LastSeen AuthenticatedAt (8 bytes each, unix ns) |
//	      uvarints IdleTimeout AbsoluteTimeout Generation | flags byte |
//	      uvarints len(UserID) len(UserAgent) len(IP) | UserID UserAgent IP |
//	      uvarint nvalues | per value: uvarint len(k), k, uvarint len(v), v
type memEntry struct {
	expires int64  // unix ns; the sweeper reads only this
	epoch   uint32 // epochs[bucket] when the generation was last known good
	bucket  uint16 // epoch bucket of the user
	hasUser bool
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

// WithMemoryClock sets the clock the store uses to expire records (default
// time.Now). Tests use it with Config.Clock.
func WithMemoryClock(now func() time.Time) MemoryOption {
	return func(s *MemoryStore) {
		if now != nil {
			s.now = now
		}
	}
}

// WithSweepInterval sets how often the background sweeper removes expired
// records (default one minute; zero or negative disables the sweeper,
// expired records are then only hidden, and removed when touched).
func WithSweepInterval(d time.Duration) MemoryOption {
	return func(s *MemoryStore) { s.sweepEvery = d }
}

// NewMemoryStore returns an empty in-memory store and starts its sweeper.
// Call Close to stop the sweeper.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	s := &MemoryStore{now: time.Now, sweepEvery: time.Minute, stop: make(chan struct{}), done: make(chan struct{})}
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

// Len returns the number of records held, expired or not yet swept included.
func (s *MemoryStore) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
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

// --- time and block encoding ---

// zeroTime encodes the zero time.Time, which has no unix-nanosecond form.
const zeroTime = math.MinInt64

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return zeroTime
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n)
}

const flagPersist = 1

// encodeEntry packs key, meta and values into an entry. keys and vals are
// parallel.
func encodeEntry(key string, meta *Meta, keys []string, vals []memVal) memEntry {
	e := memEntry{expires: unixNano(meta.Expires), hasUser: meta.UserID != ""}
	if e.hasUser {
		e.bucket = epochBucket(meta.UserID)
	}
	var flags byte
	if meta.Persist {
		flags |= flagPersist
	}
	n := len(key) + 24 + uvarintLen(uint64(meta.IdleTimeout)) + uvarintLen(uint64(meta.AbsoluteTimeout)) +
		uvarintLen(meta.Generation) + 1 +
		uvarintLen(uint64(len(meta.UserID))) + len(meta.UserID) +
		uvarintLen(uint64(len(meta.UserAgent))) + len(meta.UserAgent) +
		uvarintLen(uint64(len(meta.IP))) + len(meta.IP) + uvarintLen(uint64(len(vals)))
	for i := range vals {
		n += uvarintLen(uint64(len(keys[i]))) + len(keys[i]) + uvarintLen(uint64(vals[i].len())) + vals[i].len()
	}
	var b strings.Builder
	b.Grow(n)
	var tmp [binary.MaxVarintLen64]byte
	uv := func(v uint64) { b.Write(binary.AppendUvarint(tmp[:0], v)) }
	b.WriteString(key)
	for _, t := range [3]time.Time{meta.CreatedAt, meta.LastSeen, meta.AuthenticatedAt} {
		b.Write(binary.LittleEndian.AppendUint64(tmp[:0], uint64(unixNano(t))))
	}
	uv(uint64(meta.IdleTimeout))
	uv(uint64(meta.AbsoluteTimeout))
	uv(meta.Generation)
	b.WriteByte(flags)
	uv(uint64(len(meta.UserID)))
	uv(uint64(len(meta.UserAgent)))
	uv(uint64(len(meta.IP)))
	b.WriteString(meta.UserID)
	b.WriteString(meta.UserAgent)
	b.WriteString(meta.IP)
	uv(uint64(len(vals)))
	for i := range vals {
		uv(uint64(len(keys[i])))
		b.WriteString(keys[i])
		uv(uint64(vals[i].len()))
		b.WriteString(vals[i].s)
		b.Write(vals[i].b)
	}
	e.blob = b.String()
	return e
}

// memVal is an encoded value: a substring of a stored block, or bytes from a
// caller (copied into the new block).
type memVal struct {
	s string
	b []byte
}

func (v memVal) len() int { return len(v.s) + len(v.b) }

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// memReader walks an entry's block.
type memReader struct {
	b string
	p int
}

func (r *memReader) uvarint() uint64 {
	var v uint64
	for shift := 0; ; shift += 7 {
		c := r.b[r.p]
		r.p++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
}

func (r *memReader) u64() uint64 {
	v := uint64(r.b[r.p]) | uint64(r.b[r.p+1])<<8 | uint64(r.b[r.p+2])<<16 | uint64(r.b[r.p+3])<<24 |
		uint64(r.b[r.p+4])<<32 | uint64(r.b[r.p+5])<<40 | uint64(r.b[r.p+6])<<48 | uint64(r.b[r.p+7])<<56
	r.p += 8
	return v
}

func (r *memReader) str(n int) string {
	v := r.b[r.p : r.p+n]
	r.p += n
	return v
}

// decodeMeta reads the metadata of e, stored under a key of length klen,
// and returns a reader positioned at the values and their count. The
// strings it sets share the entry's block.
func decodeMeta(e *memEntry, klen int, meta *Meta) (memReader, int) {
	r := memReader{b: e.blob, p: klen}
	meta.CreatedAt = fromUnixNano(int64(r.u64()))
	meta.LastSeen = fromUnixNano(int64(r.u64()))
	meta.AuthenticatedAt = fromUnixNano(int64(r.u64()))
	meta.Expires = fromUnixNano(e.expires)
	meta.IdleTimeout = time.Duration(r.uvarint())
	meta.AbsoluteTimeout = time.Duration(r.uvarint())
	meta.Generation = r.uvarint()
	meta.Persist = r.b[r.p]&flagPersist != 0
	r.p++
	nu, na, ni := int(r.uvarint()), int(r.uvarint()), int(r.uvarint())
	meta.UserID, meta.UserAgent, meta.IP = r.str(nu), r.str(na), r.str(ni)
	return r, int(r.uvarint())
}

// next returns the next value's key and encoded value, both substrings of
// the block.
func (r *memReader) next() (string, string) {
	k := r.str(int(r.uvarint()))
	return k, r.str(int(r.uvarint()))
}

// entryUser returns the user ID and generation stored in e (key length
// klen).
func entryUser(e *memEntry, klen int) (string, uint64) {
	r := memReader{b: e.blob, p: klen + 24}
	r.uvarint()
	r.uvarint()
	gen := r.uvarint()
	r.p++
	nu := int(r.uvarint())
	r.uvarint()
	r.uvarint()
	return r.str(nu), gen
}

// --- liveness ---

// check reports whether e (stored under a key of length klen) is live at
// now, and whether its epoch may be refreshed to ep (the generation was
// verified the slow way).
func (s *MemoryStore) check(e *memEntry, klen int, now int64) (live bool, refresh bool, ep uint32) {
	if now >= e.expires {
		return false, false, 0
	}
	if !e.hasUser {
		return true, false, 0
	}
	// Read the epoch before the generation: a revocation that bumps the
	// generation afterwards also bumps the epoch, so the refreshed value
	// can never hide it.
	ep = s.epochs[e.bucket].Load()
	if ep == e.epoch {
		return true, false, 0
	}
	user, gen := entryUser(e, klen)
	if gen < s.generation(user) {
		return false, false, 0
	}
	return true, true, ep
}

// refreshEpoch records that e's generation was found current at epoch ep,
// if the entry under key still holds the same record.
func (s *MemoryStore) refreshEpoch(sh *memShard, key string, e *memEntry, ep uint32) {
	sh.mu.Lock()
	if cur, ok := sh.m[key]; ok && cur.blob == e.blob {
		cur.epoch = ep
		sh.m[key] = cur
	}
	sh.mu.Unlock()
}

// --- Store ---

// recordBuf is a Record and room for its small values in one allocation
// (256 bytes, a size class).
type recordBuf struct {
	r   Record
	buf [72]byte
}

// Load implements Store. The record's values share one new buffer; nothing
// the caller does to them reaches the store.
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
	// The block is immutable: it is read without the lock.
	live, refresh, ep := s.check(&e, len(key), now)
	if !live {
		return nil, fmt.Errorf("memory store: load: %w", ErrNotFound)
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
	if n := len(e.blob) - rd.p; n <= len(rb.buf) {
		buf = rb.buf[:0:n]
	} else {
		buf = make([]byte, 0, n)
	}
	for range nv {
		k, v := rd.next()
		at := len(buf)
		buf = append(buf, v...)
		r.Values[k] = buf[at:len(buf):len(buf)]
	}
	return r, nil
}

// Create implements Store. It indexes the record under its user and stamps
// the user's current generation.
func (s *MemoryStore) Create(ctx context.Context, key string, r *Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: create: %w", err)
	}
	if !s.now().Before(r.Expires) {
		return s.Delete(ctx, key) // a past deadline deletes, never stores
	}
	meta := r.Meta
	var ep uint32
	if meta.UserID != "" {
		ep = s.epochs[epochBucket(meta.UserID)].Load() // before the generation: see check
		us := s.userShard(meta.UserID)
		us.mu.Lock()
		u := us.m[meta.UserID]
		if u == nil {
			u = &memUser{}
			us.m[meta.UserID] = u
		}
		meta.Generation = u.gen
		u.add(key)
		us.mu.Unlock()
	}
	var kbuf [memMaxInline]string
	var vbuf [memMaxInline]memVal
	keys, vals := kbuf[:0], vbuf[:0]
	for k, v := range r.Values {
		keys = append(keys, k)
		vals = append(vals, memVal{b: v})
	}
	e := encodeEntry(key, &meta, keys, vals)
	e.epoch = ep
	sh := s.shard(key)
	sh.mu.Lock()
	old, had := sh.m[key]
	sh.m[e.blob[:len(key)]] = e // the map's key shares the block
	sh.mu.Unlock()
	if had && old.hasUser {
		if u, _ := entryUser(&old, len(key)); u != meta.UserID {
			s.unindex(u, key)
		}
	}
	return nil
}

// memMaxInline is the number of values Create and Update handle without
// allocating their working lists.
const memMaxInline = 8

// Update implements Store: the delta is merged under the shard lock, so
// concurrent updates of distinct keys all survive.
func (s *MemoryStore) Update(ctx context.Context, key string, d *Delta) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: update: %w", err)
	}
	now := s.now().UnixNano()
	sh := s.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[key]
	if !ok {
		sh.mu.Unlock()
		return fmt.Errorf("memory store: update: %w", ErrNotFound)
	}
	live, refresh, ep := s.check(&e, len(key), now)
	if !live {
		sh.mu.Unlock()
		return fmt.Errorf("memory store: update: %w", ErrNotFound)
	}
	var meta Meta
	rd, nv := decodeMeta(&e, len(key), &meta)
	var kbuf [memMaxInline]string
	var vbuf [memMaxInline]memVal
	keys, vals := kbuf[:0], vbuf[:0]
	if !d.Clear {
		for range nv {
			k, v := rd.next()
			keys = append(keys, k)
			vals = append(vals, memVal{s: v})
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
				vals[i] = memVal{b: v} // copied into the new block
				continue outer
			}
		}
		keys = append(keys, k)
		vals = append(vals, memVal{b: v})
	}
	sameUser := true
	if d.Meta != nil {
		gen, user := meta.Generation, meta.UserID
		meta = *d.Meta
		meta.Generation = gen
		sameUser = meta.UserID == user
	}
	ne := encodeEntry(key, &meta, keys, vals)
	switch {
	case !sameUser:
		// Another user: force a generation check on the next access.
		ne.epoch = s.epochs[ne.bucket].Load() - 1
	case refresh:
		ne.epoch = ep
	default:
		ne.epoch = e.epoch
	}
	if now >= ne.expires {
		delete(sh.m, key)
	} else {
		sh.m[ne.blob[:len(key)]] = ne // replaces the key too: the old block is freed
	}
	sh.mu.Unlock()
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: delete: %w", err)
	}
	sh := s.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[key]
	delete(sh.m, key)
	sh.mu.Unlock()
	if ok && e.hasUser {
		u, _ := entryUser(&e, len(key))
		s.unindex(u, key)
	}
	return nil
}

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
	out := make([]IndexedRecord, 0, len(keys))
	now := s.now().UnixNano()
	for _, k := range keys {
		sh := s.shard(k)
		sh.mu.RLock()
		e, ok := sh.m[k]
		sh.mu.RUnlock()
		var meta Meta
		if ok {
			decodeMeta(&e, len(k), &meta)
		}
		if !ok || meta.UserID != userID {
			s.unindex(userID, k) // prune
			continue
		}
		if live, _, _ := s.check(&e, len(k), now); !live {
			s.unindex(userID, k)
			continue
		}
		out = append(out, IndexedRecord{Key: k, Meta: meta})
	}
	return out, nil
}

// RevokeUser implements UserIndex: the generation bump makes every earlier
// session of the user unloadable at once; the indexed ones are also deleted.
func (s *MemoryStore) RevokeUser(ctx context.Context, userID string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: revoke user: %w", err)
	}
	us := s.userShard(userID)
	us.mu.Lock()
	u := us.m[userID]
	if u == nil {
		u = &memUser{}
		us.m[userID] = u
	}
	u.gen++
	// After the generation: see check.
	s.epochs[epochBucket(userID)].Add(1)
	keys := u.list()
	u.keys, u.big = nil, nil
	us.mu.Unlock()
	for _, k := range keys {
		sh := s.shard(k)
		sh.mu.Lock()
		if e, ok := sh.m[k]; ok && e.hasUser {
			if owner, _ := entryUser(&e, len(k)); owner == userID {
				delete(sh.m, k)
			}
		}
		sh.mu.Unlock()
	}
	return nil
}

// sweeper removes expired records one shard at a time, so no lock is held
// for long and requests on other shards never wait.
func (s *MemoryStore) sweeper() {
	defer close(s.done)
	t := time.NewTicker(max(s.sweepEvery/memShards, time.Millisecond))
	defer t.Stop()
	next := 0
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.sweepShard(next)
			next = (next + 1) % memShards
		}
	}
}

// sweepShard deletes the expired records of one shard and drops them from
// their users' indexes. It releases the shard lock every memSweepBatch
// entries, so a mass expiry delays a request on this shard by one batch at
// most.
func (s *MemoryStore) sweepShard(i int) {
	now := s.now().UnixNano()
	sh := &s.shards[i]
	type gone struct{ user, key string }
	var removed []gone
	n := 0
	sh.mu.Lock()
	// Go maps may be modified during a range loop: entries deleted by
	// others while the lock is released are simply not produced, entries
	// they add may or may not be (and are swept next time).
	for k, e := range sh.m {
		if now >= e.expires {
			delete(sh.m, k)
			if e.hasUser {
				u, _ := entryUser(&e, len(k))
				removed = append(removed, gone{u, k})
			}
		}
		if n++; n%memSweepBatch == 0 {
			sh.mu.Unlock()
			for _, g := range removed {
				s.unindex(g.user, g.key)
			}
			removed = removed[:0]
			sh.mu.Lock()
		}
	}
	sh.mu.Unlock()
	for _, g := range removed {
		s.unindex(g.user, g.key)
	}
}
