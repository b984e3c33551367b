package slidingwindow

import (
	"math"
	"time"
)

// Allow counts one event for k at now and reports whether it is within the
// limit. A refused event is not counted; retryAfter then says how long
// until an event for k would be allowed again (when no other event comes
// first).
func (t *Table) Allow(k Key, now time.Time) (ok bool, retryAfter time.Duration) {
	sh := t.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(k, true, now.UnixNano()/t.window)
	t.advance(e, now)
	if d := t.wait(e, now); d > 0 {
		return false, d
	}
	if e.cur < math.MaxUint32 {
		e.cur++
	}
	return true, 0
}

// Wait returns how long until an event for k would be allowed: zero when
// Allow would allow it now. It counts nothing and adds no key.
func (t *Table) Wait(k Key, now time.Time) time.Duration {
	sh := t.shard(k)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e := sh.get(k, false, 0)
	if e == nil {
		return 0
	}
	t.advance(e, now)
	return t.wait(e, now)
}

// wait returns how long from now until e's count falls to limit-1, so that
// one more event fits: zero if it already has. e has been advanced to now.
//
// The count is cur plus prev weighted by the part of the previous fixed
// window still inside the sliding one. If cur alone leaves room, the wait
// ends inside the current fixed window, when prev has decayed enough;
// otherwise in the next one, when cur (then the previous bucket) has.
func (t *Table) wait(e *entry, now time.Time) time.Duration {
	room := t.limit - 1
	if t.count(e, now) <= room {
		return 0
	}
	window := t.window
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
	fits := func(at int64) bool { return t.fits(*e, time.Unix(0, at)) }
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

// fits reports whether the count of (a copy of) e at at leaves room for one
// more event.
func (t *Table) fits(e entry, at time.Time) bool {
	t.advance(&e, at)
	return t.count(&e, at) <= t.limit-1
}

// ceilFrac returns ceil(window*f) for f in [0, 1], in nanoseconds.
func ceilFrac(window int64, f float64) int64 {
	f = min(max(f, 0), 1)
	return int64(math.Ceil(float64(window) * f))
}
