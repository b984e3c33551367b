package session

import (
	"crypto/sha256"
	"math"
	"time"
)

// Limiter counts attempts per key (an account name, a client IP) in a
// sliding window and refuses them past a limit: the tool for throttling
// logins and password checks before the expensive password hash runs.
//
// It is the table behind the brute-force signal (Config.BruteForce): a
// two-bucket sliding window, memory bounded by maxTracked keys whatever
// the number of keys an attack uses (when the table is full, a new key
// replaces one whose count has lapsed first, then one that has been
// hit least often lately), each call O(1) amortised. Because of that
// bound an attacker who floods the table with maxTracked fresh keys can make it
// forget a key it counted: size maxTracked for the keys a window really sees.
//
// A Limiter is safe for concurrent use. Time is passed in, so tests and
// callers with their own clock stay deterministic.
type Limiter struct {
	b     *bruteForce
	limit float64
}

// limiterMaxKey is the longest key a Limiter keeps as it is; longer keys are
// kept as their SHA-256 digest, so a client cannot make an entry large.
const limiterMaxKey = 64

// NewLimiter returns a limiter that allows limit attempts per key within
// any window of the given length (approximately: see Limiter), tracking at
// most maxTracked keys. It panics if any argument is not positive.
func NewLimiter(limit int, window time.Duration, maxTracked int) *Limiter {
	if limit <= 0 || window <= 0 || maxTracked <= 0 {
		panic("session: NewLimiter: limit, window and maxTracked must be positive")
	}
	return &Limiter{
		b:     newBruteForce(BruteForceConfig{Threshold: limit, Window: window, MaxTracked: maxTracked}),
		limit: float64(limit),
	}
}

// Allow counts one attempt for key at now and reports whether it is within
// the limit. A refused attempt is not counted; retryAfter then says how
// long until an attempt for key would be allowed again (when no other
// attempt comes first), suitable for a Retry-After header rounded up to
// whole seconds.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	k := limiterKey(key)
	sh := l.b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(k, true, now.UnixNano()/l.b.window)
	l.b.advance(e, now)
	if d := l.wait(e, now); d > 0 {
		return false, d
	}
	if e.cur < math.MaxUint32 {
		e.cur++
	}
	return true, 0
}

// Wait returns how long until an attempt for key would be allowed: zero when
// Allow would allow it now. It counts nothing and adds no key. Use it to
// report the longer wait when an attempt is checked against several limiters
// and one of them refuses it.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	k := limiterKey(key)
	sh := l.b.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(k, false, 0)
	if e == nil {
		return 0
	}
	l.b.advance(e, now)
	return l.wait(e, now)
}

// Len returns the number of keys tracked, at most maxTracked.
func (l *Limiter) Len() int { return l.b.size() }

// IPKey returns the key under which to count a client IP: the address for
// IPv4 (and IPv4-mapped IPv6), its /64 prefix for IPv6, the block a single
// subscriber normally gets, so an attacker cannot dodge a per-IP limit by
// rotating through the addresses of one prefix. A string that is not an IP
// address is returned as it is (up to 64 bytes).
func IPKey(ip string) string {
	k := bfKeyOf(ip)
	switch {
	case !k.addr.IsValid():
		return k.raw
	case k.addr.Is6():
		return k.addr.String() + "/64"
	}
	return k.addr.String()
}

func limiterKey(key string) bfKey {
	if len(key) <= limiterMaxKey {
		return bfKey{raw: key}
	}
	sum := sha256.Sum256([]byte(key))
	return bfKey{raw: "\x00" + string(sum[:])}
}

// wait returns how long from now until e's count falls to limit-1, so that
// one more attempt fits: zero if it already has. e has been advanced to now.
//
// The count is cur plus prev weighted by the part of the previous fixed
// window still inside the sliding one. If cur alone leaves room, the wait
// ends inside the current fixed window, when prev has decayed enough;
// otherwise in the next one, when cur (then the previous bucket) has.
func (l *Limiter) wait(e *bfEntry, now time.Time) time.Duration {
	room := l.limit - 1
	if l.b.count(e, now) <= room {
		return 0
	}
	window := l.b.window
	start := e.win * window // of the fixed window e.cur counts
	var at int64            // when the count falls to room
	if float64(e.cur) <= room {
		// prev*(1 - elapsed/window) <= room - cur
		at = start + ceilFrac(window, 1-(room-float64(e.cur))/float64(e.prev))
	} else {
		// cur*(1 - elapsed/window) <= room, one window later
		at = start + window + ceilFrac(window, 1-room/float64(e.cur))
	}
	// Floating-point rounding can put at a few nanoseconds off the first
	// moment the count fits (it only falls as time passes): settle it, and
	// should that fail, wait until both buckets have lapsed.
	fits := func(at int64) bool { return l.fits(*e, time.Unix(0, at)) }
	for i := 0; i < 64 && !fits(at); i++ {
		at++
	}
	for i := 0; i < 64 && at-1 > now.UnixNano() && fits(at-1); i++ {
		at--
	}
	if !fits(at) {
		at = start + 2*window
	}
	return time.Duration(max(at-now.UnixNano(), 1))
}

// fits reports whether the count of (a copy of) e at t leaves room for one
// more attempt.
func (l *Limiter) fits(e bfEntry, t time.Time) bool {
	l.b.advance(&e, t)
	return l.b.count(&e, t) <= l.limit-1
}

// ceilFrac returns ceil(window*f) for f in [0, 1], in nanoseconds.
func ceilFrac(window int64, f float64) int64 {
	f = min(max(f, 0), 1)
	return int64(math.Ceil(float64(window) * f))
}
