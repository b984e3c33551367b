package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

const (
	// SecretLen is the size of a session's secret: 256 bits.
	SecretLen = 32
	// tokenLen is the length of a masked token: base64url, unpadded, of a
	// 32-byte pad followed by the 32-byte secret XOR pad.
	tokenLen = (2*SecretLen*8 + 5) / 6 // 86
	// keyLabel separates the CSRF key derived from a signing key from the
	// signing key's own use.
	keyLabel = "sessionkit/session: anonymous CSRF key v1"
	// nonceLabel separates the nonce MAC from anything else the key could
	// ever sign.
	nonceLabel = "csrf-nonce\x00"
)

// encoding decodes tokens and secrets strictly: canonical unpadded
// base64url only. It is never modified.
var encoding = base64.RawURLEncoding.Strict()

// NewSecret returns a fresh secret and its encoding for the session.
func NewSecret() (secret []byte, encoded string) {
	secret = make([]byte, SecretLen)
	_, _ = rand.Read(secret) // never fails (Go 1.24+)
	return secret, base64.RawURLEncoding.EncodeToString(secret)
}

// DecodeSecret returns the secret encoded by NewSecret, or nil for
// anything else.
func DecodeSecret(enc string) []byte {
	secret, err := encoding.DecodeString(enc)
	if err != nil || len(secret) != SecretLen {
		return nil
	}
	return secret
}

// Mask returns base64url(pad || secret XOR pad) with a fresh random pad, so
// a page never shows the same token twice (no BREACH-style recovery).
func Mask(secret []byte) string {
	var buf [2 * SecretLen]byte
	pad, masked := buf[:SecretLen], buf[SecretLen:]
	_, _ = rand.Read(pad) // never fails (Go 1.24+)
	subtle.XORBytes(masked, secret, pad)
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

// Unmask recovers the secret from a masked token. It reports false for
// anything that is not exactly a canonical 86-character base64url encoding
// of 64 bytes; it never panics.
func Unmask(token string) ([]byte, bool) {
	if len(token) != tokenLen {
		return nil, false
	}
	var buf [2 * SecretLen]byte
	// The decoder skips '\r' and '\n', so a token holding them decodes short:
	// the length check below rejects it.
	n, err := encoding.Decode(buf[:], []byte(token))
	if err != nil || n != len(buf) {
		return nil, false
	}
	secret := make([]byte, SecretLen)
	subtle.XORBytes(secret, buf[:SecretLen], buf[SecretLen:])
	return secret, true
}

// NewKeys returns the keys of the stateless tokens: one derived from each
// signing key when there are any (the first signs, all verify, so they
// rotate with the signing keys and Managers sharing them agree), or one
// random key.
func NewKeys(signing [][]byte) [][]byte {
	if len(signing) == 0 {
		k := make([]byte, sha256.Size)
		_, _ = rand.Read(k) // never fails (Go 1.24+)
		return [][]byte{k}
	}
	keys := make([][]byte, len(signing))
	for i, sk := range signing {
		h := hmac.New(sha256.New, sk)
		h.Write([]byte(keyLabel))
		keys[i] = h.Sum(nil)
	}
	return keys
}

// NonceSecret returns the secret of the tokens bound to nonce under key.
func NonceSecret(key []byte, nonce string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(nonceLabel))
	h.Write([]byte(nonce))
	return h.Sum(nil)
}

// VerifyNonce reports whether got is the secret of nonce under one of
// keys, comparing in constant time. An empty nonce verifies nothing.
func VerifyNonce(keys [][]byte, nonce string, got []byte) bool {
	if nonce == "" {
		return false
	}
	ok := 0
	for _, k := range keys {
		ok |= subtle.ConstantTimeCompare(got, NonceSecret(k, nonce))
	}
	return ok == 1
}
