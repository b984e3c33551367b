package memcachedstore

import (
	"hash/maphash"
	"sync/atomic"

	"github.com/bradfitz/gomemcache/memcache"
)

// casSlots is the number of slots of a casCache.
const casSlots = 512

// casMaxValue is the largest item a casCache keeps, so the cache holds at
// most casSlots*casMaxValue bytes.
const casMaxValue = 8 << 10

// casCache remembers, per key, the item (value and CAS token) that the last
// Load read, so that the write at the end of the same request can send its
// cas at once instead of reading the item again: a write request then costs
// two round trips (get, cas) instead of three.
//
// It never risks a lost update: a cas with a remembered token succeeds only
// if the item is exactly the one that was read (Memcached gives every
// modification a new token), and otherwise the write falls back to gets and
// cas. Each entry is used at most once. The cache is a fixed array of slots
// indexed by a hash of the key, so it is bounded and needs no sweeping.
type casCache struct {
	seed  maphash.Seed
	slots [casSlots]atomic.Pointer[memcache.Item]
}

func (c *casCache) slot(mkey string) *atomic.Pointer[memcache.Item] {
	if c.seed == (maphash.Seed{}) {
		return nil
	}
	return &c.slots[maphash.String(c.seed, mkey)%casSlots]
}

// put remembers it (read under its key).
func (c *casCache) put(mkey string, it *memcache.Item) {
	if len(it.Value) > casMaxValue {
		return
	}
	if p := c.slot(mkey); p != nil {
		p.Store(it)
	}
}

// take returns and forgets the item remembered under mkey, or nil.
func (c *casCache) take(mkey string) *memcache.Item {
	p := c.slot(mkey)
	if p == nil {
		return nil
	}
	it := p.Load()
	if it == nil || it.Key != mkey || !p.CompareAndSwap(it, nil) {
		return nil
	}
	return it
}
