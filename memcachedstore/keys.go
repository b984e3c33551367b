package memcachedstore

import (
	"crypto/sha256"
	"encoding/base64"
	"math"
	"time"
)

// maxKeyLen is Memcached's key limit, in bytes.
const maxKeyLen = 250

// hashedKeyLen is the length of a hashed key: base64url of SHA-256.
const hashedKeyLen = 43

// keyPrefix returns the prefix actually used for prefix: prefix itself when
// it is a legal Memcached key fragment (printable ASCII, no space or control
// character) short enough for a hashed key to follow it, and otherwise a
// short hash of it, so that any prefix yields keys within the 250-byte limit.
func keyPrefix(prefix string) string {
	if len(prefix)+hashedKeyLen <= maxKeyLen && legal(prefix) {
		return prefix
	}
	sum := sha256.Sum256([]byte(prefix))
	return "h" + base64.RawURLEncoding.EncodeToString(sum[:16]) + ":"
}

// legal reports whether s holds only bytes Memcached accepts in a key.
func legal(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// itemKey is the Memcached key of a session key: the prefix and a hash of
// the key, so every key, whatever its length or bytes, is legal and at most
// 250 bytes. The keys the Manager passes are already hashes of the token;
// hashing again costs less than a microsecond.
func (s *base) itemKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	b := make([]byte, 0, len(s.prefix)+hashedKeyLen)
	b = append(b, s.prefix...)
	b = base64.RawURLEncoding.AppendEncode(b, sum[:])
	return string(b)
}

// anchorKey is the item key of a family's anchor (see family.go): the
// same shape as a session's item key, from an input no session key hashes
// to (session keys hold no NUL byte; a user's item uses another tag).
func (s *base) anchorKey(family string) string { return s.itemKey("\x00family\x00" + family) }

// maxRelative is the longest expiration Memcached takes as relative
// seconds; a larger number is an absolute Unix time.
const maxRelative = 30 * 24 * 60 * 60

// expiration converts a deadline into Memcached's expiration field: relative
// seconds up to 30 days, an absolute Unix time beyond. It rounds up and adds
// a second, because Memcached's clock ticks in whole seconds: the item must
// not vanish before the deadline, which the store checks itself on every
// read. ok is false when the deadline has already passed.
func expiration(deadline, now time.Time) (exp int32, ok bool) {
	d := deadline.Sub(now)
	if d <= 0 {
		return 0, false
	}
	secs := int64((d+time.Second-1)/time.Second) + 1
	if secs <= maxRelative {
		return int32(secs), true
	}
	abs := deadline.Unix() + 2
	if abs > math.MaxInt32 {
		abs = math.MaxInt32 // 2038: Memcached's field is 32 bits; reads still check the deadline
	}
	return int32(abs), true
}
