package session

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// memShards is the number of independently locked shards: enough that two
// cores never queue on one lock, and small enough that sweeping one shard
// holds its lock only briefly even with millions of sessions.
const memShards = 256

// MemoryStore is an in-memory Store for one process: sharded, safe for
// concurrent use, with expired records removed in the background. It also
// implements UserIndex. Records are lost when the process exits; use the
// Redis store to share sessions between processes or survive restarts.
type MemoryStore struct {
	now    func() time.Time
	shards [memShards]memShard
	users  [memShards]userShard

	sweepEvery time.Duration
	stop       chan struct{}
	done       chan struct{}
	closeOnce  sync.Once
}

type memShard struct {
	mu sync.RWMutex
	m  map[string]*memEntry
}

// memEntry is a stored record in a compact form: values as a short slice of
// pairs rather than a map, which is smaller for the few keys a session holds.
type memEntry struct {
	meta Meta
	vals []memKV
}

type memKV struct {
	k string
	v []byte // never modified in place once stored
}

type userShard struct {
	mu sync.RWMutex
	m  map[string]*memUser
}

type memUser struct {
	gen  uint64
	keys map[string]time.Time // session key -> its expiry
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
		s.shards[i].m = make(map[string]*memEntry)
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

// live reports whether e is neither expired nor revoked.
func (s *MemoryStore) live(meta *Meta, now time.Time) bool {
	if !now.Before(meta.Expires) {
		return false
	}
	return meta.UserID == "" || meta.Generation >= s.generation(meta.UserID)
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

// Load implements Store.
func (s *MemoryStore) Load(ctx context.Context, key string) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory store: load: %w", err)
	}
	sh := s.shard(key)
	sh.mu.RLock()
	e := sh.m[key]
	var r *Record
	if e != nil {
		r = &Record{Meta: e.meta, Values: make(map[string][]byte, len(e.vals))}
		for _, kv := range e.vals {
			r.Values[kv.k] = kv.v // shared: stored slices are never modified
		}
	}
	sh.mu.RUnlock()
	if r == nil || !s.live(&r.Meta, s.now()) {
		return nil, fmt.Errorf("memory store: load: %w", ErrNotFound)
	}
	return r, nil
}

// Create implements Store. It indexes the record under its user and stamps
// the user's current generation.
func (s *MemoryStore) Create(ctx context.Context, key string, r *Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: create: %w", err)
	}
	e := &memEntry{meta: r.Meta, vals: make([]memKV, 0, len(r.Values))}
	for k, v := range r.Values {
		e.vals = append(e.vals, memKV{k, append([]byte(nil), v...)})
	}
	if !s.now().Before(e.meta.Expires) {
		return s.Delete(ctx, key) // a past deadline deletes, never stores
	}
	if e.meta.UserID != "" {
		us := s.userShard(e.meta.UserID)
		us.mu.Lock()
		u := us.m[e.meta.UserID]
		if u == nil {
			u = &memUser{keys: make(map[string]time.Time, 1)}
			us.m[e.meta.UserID] = u
		}
		e.meta.Generation = u.gen
		u.keys[key] = e.meta.Expires
		us.mu.Unlock()
	}
	sh := s.shard(key)
	sh.mu.Lock()
	old := sh.m[key]
	sh.m[key] = e
	sh.mu.Unlock()
	if old != nil && old.meta.UserID != e.meta.UserID {
		s.unindex(old.meta.UserID, key)
	}
	return nil
}

// Update implements Store: the delta is merged under the shard lock, so
// concurrent updates of distinct keys all survive.
func (s *MemoryStore) Update(ctx context.Context, key string, d *Delta) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: update: %w", err)
	}
	now := s.now()
	sh := s.shard(key)
	sh.mu.Lock()
	e := sh.m[key]
	if e == nil || !s.live(&e.meta, now) {
		sh.mu.Unlock()
		return fmt.Errorf("memory store: update: %w", ErrNotFound)
	}
	e.vals = applyToPairs(e.vals, d)
	if d.Meta != nil {
		gen := e.meta.Generation
		e.meta = *d.Meta
		e.meta.Generation = gen
	}
	expires, user := e.meta.Expires, e.meta.UserID
	if !now.Before(expires) {
		delete(sh.m, key)
	}
	sh.mu.Unlock()
	if d.Meta != nil && user != "" {
		us := s.userShard(user)
		us.mu.Lock()
		if u := us.m[user]; u != nil {
			if _, ok := u.keys[key]; ok {
				u.keys[key] = expires
			}
		}
		us.mu.Unlock()
	}
	return nil
}

// applyToPairs merges d's value changes into vals.
func applyToPairs(vals []memKV, d *Delta) []memKV {
	if d.Clear {
		vals = vals[:0]
	}
	for _, k := range d.Delete {
		for i := range vals {
			if vals[i].k == k {
				vals = append(vals[:i], vals[i+1:]...)
				break
			}
		}
	}
outer:
	for k, v := range d.Set {
		v = append([]byte(nil), v...)
		for i := range vals {
			if vals[i].k == k {
				vals[i].v = v
				continue outer
			}
		}
		vals = append(vals, memKV{k, v})
	}
	return vals
}

// Delete implements Store.
func (s *MemoryStore) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: delete: %w", err)
	}
	sh := s.shard(key)
	sh.mu.Lock()
	e := sh.m[key]
	delete(sh.m, key)
	sh.mu.Unlock()
	if e != nil && e.meta.UserID != "" {
		s.unindex(e.meta.UserID, key)
	}
	return nil
}

func (s *MemoryStore) unindex(userID, key string) {
	us := s.userShard(userID)
	us.mu.Lock()
	if u := us.m[userID]; u != nil {
		delete(u.keys, key)
		if len(u.keys) == 0 && u.gen == 0 {
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
		for k := range u.keys {
			keys = append(keys, k)
		}
	}
	us.mu.RUnlock()
	out := make([]IndexedRecord, 0, len(keys))
	now := s.now()
	for _, k := range keys {
		sh := s.shard(k)
		sh.mu.RLock()
		e := sh.m[k]
		var meta Meta
		ok := e != nil && e.meta.UserID == userID
		if ok {
			meta = e.meta
		}
		sh.mu.RUnlock()
		if !ok || !s.live(&meta, now) {
			s.unindex(userID, k) // prune
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
		u = &memUser{keys: map[string]time.Time{}}
		us.m[userID] = u
	}
	u.gen++
	keys := u.keys
	u.keys = make(map[string]time.Time)
	us.mu.Unlock()
	for k := range keys {
		sh := s.shard(k)
		sh.mu.Lock()
		if e := sh.m[k]; e != nil && e.meta.UserID == userID {
			delete(sh.m, k)
		}
		sh.mu.Unlock()
	}
	return nil
}

// sweeper removes expired records one shard at a time, so no lock is held
// for long and requests on other shards never wait.
func (s *MemoryStore) sweeper() {
	defer close(s.done)
	t := time.NewTicker(s.sweepEvery / memShards)
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
// their users' indexes.
func (s *MemoryStore) sweepShard(i int) {
	now := s.now()
	sh := &s.shards[i]
	type gone struct{ user, key string }
	var removed []gone
	sh.mu.Lock()
	for k, e := range sh.m {
		if !now.Before(e.meta.Expires) {
			delete(sh.m, k)
			if e.meta.UserID != "" {
				removed = append(removed, gone{e.meta.UserID, k})
			}
		}
	}
	sh.mu.Unlock()
	for _, g := range removed {
		s.unindex(g.user, g.key)
	}
}
