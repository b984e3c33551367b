package session

import (
	"hash/maphash"
	"math"
	"net/netip"
	"sync"
	"time"
)

// bruteForce counts rejected session IDs per client in a sliding window and
// says when a client crosses BruteForceConfig.Threshold. Its table also
// backs the exported Limiter (limiter.go), which keys it by arbitrary strings.
//
// The window is the usual two-bucket approximation: a client's count at now
// is the rejections of the current fixed window plus those of the previous
// one weighted by the part of it still inside the sliding window.
//
// Memory is bounded by BruteForceConfig.MaxTracked entries whatever the
// number of addresses an attack comes from. The entries live in shards, each
// a fixed-capacity table under its own mutex; when a shard is full a new
// client replaces an entry chosen by a generalised CLOCK sweep: entries whose
// count has lapsed go first, and each hit earns an entry (up to three) extra
// passes of the hand, so busy offenders outlive one-off addresses. Every call
// is O(1) amortised.
//
// IPv6 clients are counted per /64, the block a single subscriber normally
// gets: counting single addresses would let one attacker rotate through 2^64
// of them and never cross the threshold.
type bruteForce struct {
	threshold float64
	window    int64 // nanoseconds
	seed      maphash.Seed
	shards    []bfShard
}

// bfKey identifies a client: its IP (an IPv6 /64 masked to its prefix), or
// the raw address string when it is not an IP (a Unix socket, say).
type bfKey struct {
	addr netip.Addr
	raw  string
}

type bfEntry struct {
	key     bfKey
	win     int64  // index of the fixed window cur counts
	cur     uint32 // rejections in window win
	prev    uint32 // rejections in window win-1
	ref     uint8  // CLOCK credit: passes the hand skips this entry
	alerted bool   // crossing signalled; re-armed at half the threshold
}

// bfMaxRef caps the CLOCK credit of an entry.
const bfMaxRef = 3

// bfShards is the number of shards for a large MaxTracked.
const bfShards = 16

type bfShard struct {
	mu      sync.Mutex
	index   map[bfKey]int32
	entries []bfEntry // grows to capacity, then entries are replaced
	limit   int       // capacity of entries
	hand    int       // CLOCK hand
}

// newBruteForce returns a counter for cfg (already validated: positive
// Threshold, Window and MaxTracked).
func newBruteForce(cfg BruteForceConfig) *bruteForce {
	maxTracked := max(cfg.MaxTracked, 1)
	n := min(bfShards, maxTracked)
	b := &bruteForce{
		threshold: float64(cfg.Threshold),
		window:    max(int64(cfg.Window), 1),
		seed:      maphash.MakeSeed(),
		shards:    make([]bfShard, n),
	}
	for i := range b.shards {
		sh := &b.shards[i]
		sh.limit = maxTracked / n
		if i < maxTracked%n {
			sh.limit++
		}
		sh.index = make(map[bfKey]int32)
	}
	return b
}

// reject counts one rejected ID from ip at now and reports whether this
// rejection took ip's count to the threshold: true once per episode, and
// again only after the count has fallen back to half the threshold.
func (b *bruteForce) reject(ip string, now time.Time) (crossed bool) {
	k := bfKeyOf(ip)
	sh := b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(k, true, now.UnixNano()/b.window)
	b.advance(e, now)
	if e.cur < math.MaxUint32 {
		e.cur++
	}
	if b.count(e, now) >= b.threshold {
		crossed = !e.alerted
		e.alerted = true
	}
	return crossed
}

// blocked reports whether ip is over the threshold at now. It allocates
// nothing and adds no entry.
func (b *bruteForce) blocked(ip string, now time.Time) bool {
	k := bfKeyOf(ip)
	sh := b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(k, false, 0)
	if e == nil {
		return false
	}
	b.advance(e, now)
	return b.count(e, now) >= b.threshold
}

// size returns the number of clients tracked.
func (b *bruteForce) size() int {
	n := 0
	for i := range b.shards {
		sh := &b.shards[i]
		sh.mu.Lock()
		n += len(sh.index)
		sh.mu.Unlock()
	}
	return n
}

func (b *bruteForce) shard(k bfKey) *bfShard {
	var h uint64
	if k.raw != "" {
		h = maphash.String(b.seed, k.raw)
	} else {
		a := k.addr.As16()
		h = maphash.Bytes(b.seed, a[:])
	}
	return &b.shards[h%uint64(len(b.shards))]
}

// advance rolls e's buckets forward to the fixed window holding now. A clock
// that steps backwards leaves them as they are.
func (b *bruteForce) advance(e *bfEntry, now time.Time) {
	w := now.UnixNano() / b.window
	switch {
	case w <= e.win:
	case w == e.win+1:
		e.win, e.prev, e.cur = w, e.cur, 0
	default:
		e.win, e.prev, e.cur = w, 0, 0
	}
}

// count returns e's sliding-window count at now (after advance). It re-arms
// the crossing signal once the count has fallen to half the threshold: the
// hysteresis keeps a client hovering around the threshold from raising a
// signal on every other rejection.
func (b *bruteForce) count(e *bfEntry, now time.Time) float64 {
	elapsed := now.UnixNano() - e.win*b.window // in [0, window) unless the clock stepped back
	weight := 1 - float64(min(max(elapsed, 0), b.window))/float64(b.window)
	c := float64(e.cur) + float64(e.prev)*weight
	if c <= b.threshold/2 {
		e.alerted = false
	}
	return c
}

// get returns the entry for k. When there is none it returns nil, or, with
// add, a new entry for the fixed window w, replacing another if the shard is
// full. A hit earns CLOCK credit. The caller holds sh.mu.
func (sh *bfShard) get(k bfKey, add bool, w int64) *bfEntry {
	if i, ok := sh.index[k]; ok {
		e := &sh.entries[i]
		if e.ref < bfMaxRef {
			e.ref++
		}
		return e
	}
	if !add {
		return nil
	}
	var i int
	if len(sh.entries) < sh.limit {
		sh.entries = append(sh.entries, bfEntry{})
		i = len(sh.entries) - 1
	} else {
		i = sh.victim(w)
		delete(sh.index, sh.entries[i].key)
	}
	sh.entries[i] = bfEntry{key: k, win: w, ref: 1}
	sh.index[k] = int32(i)
	return &sh.entries[i]
}

// victim moves the CLOCK hand to an entry to replace: the first one whose
// count has lapsed (nothing in window w or the one before it) or that has no
// credit left, taking one credit from each entry it passes. It ends within
// bfMaxRef+1 turns of the table.
func (sh *bfShard) victim(w int64) int {
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

// bfKeyOf maps a client IP to its key: IPv4 (and IPv4-mapped IPv6) per
// address, IPv6 per /64, anything unparsable by its raw string.
func bfKeyOf(ip string) bfKey {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return bfKey{raw: clientString(ip)}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64) // cannot fail: 64 bits fit an IPv6 address
		a = p.Addr()
	}
	return bfKey{addr: a}
}
