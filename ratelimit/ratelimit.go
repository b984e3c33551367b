// Package ratelimit counts attempts per key (an account name, a client IP)
// in a sliding window and refuses them past a limit: the tool for
// throttling logins and password checks before the expensive password hash
// runs. It is the table behind the session package's brute-force signal
// (session.Config.BruteForce), offered on its own because throttling a
// password check is not about sessions.
package ratelimit

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sessionkit/session/internal/slidingwindow"
)

// Limiter counts attempts per key (an account name, a client IP) in a
// sliding window and refuses them past a limit: the tool for throttling
// logins and password checks before the expensive password hash runs.
//
// It is the table behind the brute-force signal (session.Config.BruteForce): a
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
	t *slidingwindow.Table
}

// ErrInvalid is wrapped by the error of New for a limit, window or
// maxTracked that is not positive.
var ErrInvalid = errors.New("ratelimit: invalid argument")

// limiterMaxKey is the longest key a Limiter keeps as it is; longer keys are
// kept as their SHA-256 digest, so a client cannot make an entry large.
const limiterMaxKey = 64

// New returns a limiter that allows limit attempts per key within
// any window of the given length (approximately: see Limiter), tracking at
// most maxTracked keys. An argument that is not positive is an error
// wrapping ErrInvalid.
func New(limit int, window time.Duration, maxTracked int) (*Limiter, error) {
	if limit <= 0 || window <= 0 || maxTracked <= 0 {
		return nil, fmt.Errorf("%w: limit %d, window %v and maxTracked %d must be positive", ErrInvalid, limit, window, maxTracked)
	}
	return &Limiter{t: slidingwindow.New(limit, window, maxTracked)}, nil
}

// Allow counts one attempt for key at now and reports whether it is within
// the limit. A refused attempt is not counted; retryAfter then says how
// long until an attempt for key would be allowed again (when no other
// attempt comes first), suitable for a Retry-After header rounded up to
// whole seconds.
func (l *Limiter) Allow(key string, now time.Time) (ok bool, retryAfter time.Duration) {
	return l.t.Allow(limiterKey(key), now)
}

// Wait returns how long until an attempt for key would be allowed: zero when
// Allow would allow it now. It counts nothing and adds no key. Use it to
// report the longer wait when an attempt is checked against several limiters
// and one of them refuses it.
func (l *Limiter) Wait(key string, now time.Time) time.Duration {
	return l.t.Wait(limiterKey(key), now)
}

// size returns the number of keys tracked, at most maxTracked.
func (l *Limiter) size() int { return l.t.Len() }

// IPKey returns the key under which to count a client IP: the address for
// IPv4 (and IPv4-mapped IPv6), its /64 prefix for IPv6, the block a single
// subscriber normally gets, so an attacker cannot dodge a per-IP limit by
// rotating through the addresses of one prefix. An address with a port
// ("192.0.2.1:8080", "[2001:db8::1]:443", as in http.Request.RemoteAddr)
// counts as its address. A string that is not an IP address is returned
// cut to the client-string bound (256 bytes, valid UTF-8); the Limiter
// hashes keys over 64 bytes.
func IPKey(ip string) string {
	if ap, err := netip.ParseAddrPort(ip); err == nil {
		ip = ap.Addr().String()
	}
	k := slidingwindow.IPKey(ip)
	switch {
	case !k.Addr.IsValid():
		return k.Raw
	case k.Addr.Is6():
		return k.Addr.String() + "/64"
	}
	return k.Addr.String()
}

func limiterKey(key string) slidingwindow.Key {
	if len(key) <= limiterMaxKey {
		return slidingwindow.Key{Raw: key}
	}
	sum := sha256.Sum256([]byte(key))
	return slidingwindow.Key{Raw: "\x00" + string(sum[:])}
}
