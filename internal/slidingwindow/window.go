// Package slidingwindow counts events per key in a sliding window, in a table whose
// memory is bounded whatever the number of keys. It is the mechanism behind
// the session package's brute-force signal and its exported Limiter; what a
// key stands for (a client IP, an account name) is the caller's business.
//
// The window is the usual two-bucket approximation: a key's count at now is
// the events of the current fixed window plus those of the previous one
// weighted by the part of it still inside the sliding window.
//
// The entries live in shards, each a fixed-capacity table under its own
// mutex; when a shard is full a new key replaces an entry chosen by a
// generalised CLOCK sweep: entries whose count has lapsed go first, and each
// hit earns an entry (up to three) extra passes of the hand, so busy keys
// outlive one-off ones. Every call is O(1) amortised.
package slidingwindow

import (
	"hash/maphash"
	"math"
	"net/netip"
	"sync"
	"time"

	"github.com/sessionkit/session/internal/clientstr"
)

// Key identifies what a Table counts: an IP address, or, when Addr is the
// zero netip.Addr, a string. Callers bound the length of Raw.
type Key struct {
	Addr netip.Addr
	Raw  string
}

// A Table counts events per Key in a sliding window against a limit. It is
// safe for concurrent use. Time is passed in, so callers with their own
// clock stay deterministic.
type Table struct {
	limit  float64
	window int64 // nanoseconds
	seed   maphash.Seed
	shards []shard
}

type entry struct {
	key     Key
	win     int64  // index of the fixed window cur counts
	cur     uint32 // events in window win
	prev    uint32 // events in window win-1
	ref     uint8  // CLOCK credit: passes the hand skips this entry
	alerted bool   // crossing signalled; re-armed at half the limit
}

// maxRef caps the CLOCK credit of an entry.
const maxRef = 3

// maxShards is the number of shards for a large maxTracked.
const maxShards = 16

type shard struct {
	mu      sync.Mutex
	index   map[Key]int32
	entries []entry // grows to capacity, then entries are replaced
	limit   int     // capacity of entries
	hand    int     // CLOCK hand
}

// New returns a table counting against limit within any window of the
// given length, tracking at most maxTracked keys. A non-positive window or
// maxTracked is treated as the smallest positive one.
func New(limit int, window time.Duration, maxTracked int) *Table {
	maxTracked = max(maxTracked, 1)
	n := min(maxShards, maxTracked)
	t := &Table{
		limit:  float64(limit),
		window: max(int64(window), 1),
		seed:   maphash.MakeSeed(),
		shards: make([]shard, n),
	}
	for i := range t.shards {
		sh := &t.shards[i]
		sh.limit = maxTracked / n
		if i < maxTracked%n {
			sh.limit++
		}
		sh.index = make(map[Key]int32)
	}
	return t
}

// Add counts one event for k at now, whatever its count, and reports
// whether this event took k's count to the limit: true once per episode,
// and again only after the count has fallen back to half the limit.
func (t *Table) Add(k Key, now time.Time) (crossed bool) {
	sh := t.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(k, true, now.UnixNano()/t.window)
	t.advance(e, now)
	if e.cur < math.MaxUint32 {
		e.cur++
	}
	if t.count(e, now) >= t.limit {
		crossed = !e.alerted
		e.alerted = true
	}
	return crossed
}

// Reached reports whether k's count at now is at the limit or over it. It
// allocates nothing and adds no key.
func (t *Table) Reached(k Key, now time.Time) bool {
	sh := t.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(k, false, 0)
	if e == nil {
		return false
	}
	t.advance(e, now)
	return t.count(e, now) >= t.limit
}

// Len returns the number of keys tracked, at most maxTracked.
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.index)
		sh.mu.Unlock()
	}
	return n
}

// Shards returns the number of independently locked shards: 16, or
// maxTracked when that is smaller.
func (t *Table) Shards() int { return len(t.shards) }

func (t *Table) shard(k Key) *shard {
	var h uint64
	if k.Raw != "" {
		h = maphash.String(t.seed, k.Raw)
	} else {
		a := k.Addr.As16()
		h = maphash.Bytes(t.seed, a[:])
	}
	return &t.shards[h%uint64(len(t.shards))]
}

// advance rolls e's buckets forward to the fixed window holding now. A clock
// that steps backwards leaves them as they are.
func (t *Table) advance(e *entry, now time.Time) {
	w := now.UnixNano() / t.window
	switch {
	case w <= e.win:
	case w == e.win+1:
		e.win, e.prev, e.cur = w, e.cur, 0
	default:
		e.win, e.prev, e.cur = w, 0, 0
	}
}

// count returns e's sliding-window count at now (after advance). It re-arms
// the crossing signal once the count has fallen to half the limit: the
// hysteresis keeps a key hovering around the limit from raising a signal on
// every other event.
func (t *Table) count(e *entry, now time.Time) float64 {
	elapsed := now.UnixNano() - e.win*t.window // in [0, window) unless the clock stepped back
	weight := 1 - float64(min(max(elapsed, 0), t.window))/float64(t.window)
	c := float64(e.cur) + float64(e.prev)*weight
	if c <= t.limit/2 {
		e.alerted = false
	}
	return c
}

// get returns the entry for k. When there is none it returns nil, or, with
// add, a new entry for the fixed window w, replacing another if the shard is
// full. A hit earns CLOCK credit. The caller holds sh.mu.
func (sh *shard) get(k Key, add bool, w int64) *entry {
	if i, ok := sh.index[k]; ok {
		e := &sh.entries[i]
		if e.ref < maxRef {
			e.ref++
		}
		return e
	}
	if !add {
		return nil
	}
	var i int
	if len(sh.entries) < sh.limit {
		sh.entries = append(sh.entries, entry{})
		i = len(sh.entries) - 1
	} else {
		i = sh.victim(w)
		delete(sh.index, sh.entries[i].key)
	}
	sh.entries[i] = entry{key: k, win: w, ref: 1}
	sh.index[k] = int32(i)
	return &sh.entries[i]
}

// victim moves the CLOCK hand to an entry to replace: the first one whose
// count has lapsed (nothing in window w or the one before it) or that has no
// credit left, taking one credit from each entry it passes. It ends within
// maxRef+1 turns of the table.
func (sh *shard) victim(w int64) int {
	for {
		i := sh.hand
		sh.hand = (sh.hand + 1) % len(sh.entries)
		e := &sh.entries[i]
		if e.ref == 0 || e.win+1 < w {
			return i
		}
		e.ref--
	}
}

// IPKey maps a client IP to its key: IPv4 (and IPv4-mapped IPv6) per
// address, IPv6 per /64, anything unparsable by its raw string.
func IPKey(ip string) Key {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return Key{Raw: clientstr.Clean(ip)}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64) // cannot fail: 64 bits fit an IPv6 address
		a = p.Addr()
	}
	return Key{Addr: a}
}
