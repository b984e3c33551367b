// Package sealing is the AEAD sealing shared by the cookie store and
// SealValues of package session: AES-256-GCM from the standard library,
// with a version byte and a key id in front so keys rotate (the first key
// seals, every key opens).
//
// Why AES-256-GCM rather than XChaCha20-Poly1305: it is in the standard
// library (no golang.org/x/crypto in the root module), it runs on the AES
// and carry-less multiply instructions of every current server CPU, and its
// one weakness, the 96-bit random nonce, does not bite here: NIST's bound of
// 2^32 messages per key keeps the chance of a nonce collision below 2^-32,
// and a deployment that rotates its key (as it should, yearly at least)
// seals far fewer cookies or values than that under one key.
//
// A sealed envelope is
//
//	version (1 byte) | key id (4 bytes) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// and its additional data is a purpose label (naming the format version)
// and the context the caller binds it to (the cookie name; the store key
// and value name), so a cookie cannot be opened as a value or under another
// name. The header needs no authentication of its own: the key id only
// picks the key (another id fails to open), and an unknown version is
// refused before any key is tried.
package sealing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Version is the envelope format.
const Version = 1

// KeyLen is the key length: AES-256.
const KeyLen = 32

// Header is the length of the version byte and the key id.
const Header = 1 + 4

// Overhead is what sealing adds to a plaintext: header, nonce and tag.
const Overhead = Header + 12 + 16

// ErrUnsealable is why an envelope does not open: malformed, unknown
// version or key, or forged. Deliberately one error: the caller learns
// nothing about which.
var ErrUnsealable = errors.New("session: sealed data does not open")

// Ring seals under its first key and opens under any.
type Ring struct {
	ids   [][4]byte
	aeads []cipher.AEAD
}

// NewRing checks the keys (32 bytes each, at least one, no duplicate)
// and prepares their ciphers; what names the user in errors, which wrap
// invalid. Older keys that are empty are skipped, so an optional old key
// can be passed as nil; the first key must be set.
func NewRing(what string, keys [][]byte, invalid error) (*Ring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("session: %s: no key: %w", what, invalid)
	}
	k := &Ring{}
	for i, key := range keys {
		if i > 0 && len(key) == 0 {
			continue
		}
		if len(key) != KeyLen {
			return nil, fmt.Errorf("session: %s: key %d is %d bytes, want %d random bytes: %w", what, i, len(key), KeyLen, invalid)
		}
		id := keyID(key)
		for j, other := range k.ids {
			if other == id { // the same key (or a 2^-32 accident)
				return nil, fmt.Errorf("session: %s: key %d repeats key %d: %w", what, i, j, invalid)
			}
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("session: %s: %w", what, err)
		}
		aead, err := cipher.NewGCMWithRandomNonce(block)
		if err != nil {
			return nil, fmt.Errorf("session: %s: %w", what, err)
		}
		k.ids = append(k.ids, id)
		k.aeads = append(k.aeads, aead)
	}
	return k, nil
}

// keyID names a key in envelopes: a prefix of a domain-separated hash,
// which tells nothing about the key.
func keyID(key []byte) [4]byte {
	h := sha256.New()
	h.Write([]byte("sessionkit seal key id\x00"))
	h.Write(key)
	var id [4]byte
	copy(id[:], h.Sum(nil))
	return id
}

// SealedLen is the length of the envelope of an n-byte plaintext.
func SealedLen(n int) int { return n + Overhead }

// Seal appends the envelope of plain, bound to ad (see [AD]), to dst.
func (k *Ring) Seal(dst, plain, ad []byte) []byte {
	dst = append(dst, Version)
	dst = append(dst, k.ids[0][:]...)
	return k.aeads[0].Seal(dst, nil, plain, ad)
}

// Open returns the plaintext of env, bound to ad, appended to dst, and
// whether the first key sealed it. Any failure is [ErrUnsealable]. Key ids
// are distinct, so at most one key is tried. dst may be
// env[Header:Header] to open in place.
func (k *Ring) Open(dst, env, ad []byte) (plain []byte, primary bool, err error) {
	if len(env) < Overhead || env[0] != Version {
		return nil, false, ErrUnsealable
	}
	for i, id := range k.ids {
		if string(env[1:Header]) != string(id[:]) {
			continue
		}
		p, err := k.aeads[i].Open(dst, nil, env[Header:], ad)
		if err != nil {
			break
		}
		return p, i == 0, nil
	}
	return nil, false, ErrUnsealable
}

// AD builds the additional data: purpose, NUL, context. The purpose
// separates cookies from values sealed with the same key, and names the
// version of the format.
func AD(purpose string, ctx ...string) []byte {
	n := len(purpose) + 1
	for _, c := range ctx {
		n += len(c)
	}
	ad := make([]byte, 0, n)
	ad = append(ad, purpose...)
	ad = append(ad, 0)
	for _, c := range ctx {
		ad = append(ad, c...)
	}
	return ad
}
