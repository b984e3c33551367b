package dbsc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"
)

// Challenges and bound cookies are stateless: each carries its expiry and
// an HMAC-SHA256 of what it is bound to, under a secret kept in the session
// (the binding's, or the pending registration's) mixed with Config.Key when
// one is set. Nothing is stored to issue one, neither names the session's
// token, and every server reading the same store (or the same server after
// a restart) accepts them.

const (
	kindRegister byte = 'r' // a registration challenge
	kindRefresh  byte = 'f' // a refresh challenge
	kindCookie   byte = 'c' // a bound cookie

	nonceLen = 16
	macLen   = sha256.Size
)

var b64 = base64.RawURLEncoding

// minSecret is the length below which a session's secret is not trusted
// (a value that is not ours, or damaged).
const minSecret = 16

// newSecret returns a fresh 32-byte secret.
func newSecret() []byte {
	s := make([]byte, 32)
	_, _ = rand.Read(s) // crypto/rand.Read never fails (Go 1.24+)
	return s
}

// mac returns HMAC-SHA256(k, kind || exp || nonce || context), where k is
// the secret, or HMAC-SHA256(Config.Key, secret) when a Key is set.
func (b *Binder) mac(secret []byte, kind byte, exp int64, nonce []byte, context string) []byte {
	key := secret
	if b.key != nil {
		h := hmac.New(sha256.New, b.key)
		h.Write(secret)
		key = h.Sum(nil)
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte{kind})
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(exp)))
	h.Write(nonce)
	h.Write([]byte(context))
	return h.Sum(nil)
}

// seal returns a base64url value exp || nonce || mac for context, valid
// until now+ttl. A bound cookie has no nonce.
func (b *Binder) seal(secret []byte, kind byte, ttl time.Duration, context string) string {
	exp := b.now().Add(ttl).Unix()
	var nonce []byte
	if kind != kindCookie {
		nonce = make([]byte, nonceLen)
		_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(exp))
	v = append(v, nonce...)
	return b64.EncodeToString(append(v, b.mac(secret, kind, exp, nonce, context)...))
}

// open reports whether v is a value seal issued for kind and context that
// has not expired, and its expiry.
func (b *Binder) open(secret []byte, kind byte, v, context string) (time.Time, bool) {
	if len(secret) < minSecret {
		return time.Time{}, false
	}
	n := 8 + macLen
	if kind != kindCookie {
		n += nonceLen
	}
	if len(v) != b64.EncodedLen(n) {
		return time.Time{}, false
	}
	raw, err := b64.DecodeString(v)
	if err != nil || len(raw) != n {
		return time.Time{}, false
	}
	exp := int64(binary.BigEndian.Uint64(raw[:8]))
	nonce := raw[8 : n-macLen]
	if !hmac.Equal(raw[n-macLen:], b.mac(secret, kind, exp, nonce, context)) {
		return time.Time{}, false
	}
	t := time.Unix(exp, 0)
	return t, b.now().Before(t)
}

// maxUsed bounds the challenges remembered as used. Each entry is a
// refresh that a registered key signed, kept until its challenge expires.
const maxUsed = 1 << 20

// usedChallenges remembers the refresh challenges this process accepted
// until they expire, so that a proof raced against itself is accepted once
// even when the racing requests loaded the session before either saved it
// (the session's refresh counter then makes it single use for good, across
// processes).
type usedChallenges struct {
	mu sync.Mutex
	m  map[string]time.Time
}

// take records ch, valid until exp, as used; it reports false if it
// already was (or the set is full of live challenges).
func (u *usedChallenges) take(ch string, exp, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.m[ch]; ok {
		return false
	}
	if len(u.m) >= maxUsed/2 {
		for k, e := range u.m {
			if !now.Before(e) {
				delete(u.m, k)
			}
		}
	}
	if len(u.m) >= maxUsed {
		return false
	}
	u.m[ch] = exp
	return true
}
