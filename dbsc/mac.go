package dbsc

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Challenges and bound cookies are stateless: each carries its expiry and
// an HMAC-SHA256, under the Binder's key, of what it is bound to. Nothing
// is stored to issue one, and neither names the session's token.

const (
	kindRegister byte = 'r' // a registration challenge
	kindRefresh  byte = 'f' // a refresh challenge
	kindCookie   byte = 'c' // a bound cookie

	nonceLen = 16
	macLen   = sha256.Size
)

var b64 = base64.RawURLEncoding

// mac returns HMAC-SHA256(key, kind || exp || nonce || context).
func (b *Binder) mac(kind byte, exp int64, nonce []byte, context string) []byte {
	h := hmac.New(sha256.New, b.key)
	h.Write([]byte{kind})
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(exp)))
	h.Write(nonce)
	h.Write([]byte(context))
	return h.Sum(nil)
}

// seal returns a base64url value exp || nonce || mac for context, valid
// until now+ttl. A bound cookie has no nonce.
func (b *Binder) seal(kind byte, ttl time.Duration, context string) string {
	exp := b.now().Add(ttl).Unix()
	var nonce []byte
	if kind != kindCookie {
		nonce = make([]byte, nonceLen)
		_, _ = rand.Read(nonce) // crypto/rand.Read never fails (Go 1.24+)
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(exp))
	v = append(v, nonce...)
	return b64.EncodeToString(append(v, b.mac(kind, exp, nonce, context)...))
}

// open reports whether v is a value seal issued for kind and context that
// has not expired.
func (b *Binder) open(kind byte, v, context string) bool {
	n := 8 + macLen
	if kind != kindCookie {
		n += nonceLen
	}
	if len(v) != b64.EncodedLen(n) {
		return false
	}
	raw, err := b64.DecodeString(v)
	if err != nil || len(raw) != n {
		return false
	}
	exp := int64(binary.BigEndian.Uint64(raw[:8]))
	nonce := raw[8 : n-macLen]
	if !hmac.Equal(raw[n-macLen:], b.mac(kind, exp, nonce, context)) {
		return false
	}
	return b.now().Before(time.Unix(exp, 0))
}
