// Package sid is the format of session tokens: 256 random bits in
// base64url, hashed into the store key a store sees, optionally signed,
// and read from a request's Cookie header or a token header without
// allocating. Header sessions (package session's Manager.Issue) prefix the
// secret with a family part that names the session across rotations.
package sid

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/sessionkit/session/internal/signing"
)

// Bytes is the entropy of a session token: 256 bits from crypto/rand.
const Bytes = 32

// Len is the length of a token encoded as unpadded base64url.
const Len = 43

// MaxValue bounds what the transport will even look at: anything longer
// is rejected before it is decoded, hashed or sent to a store.
const MaxValue = 256

// New returns a fresh 256-bit session token, base64url without padding.
func New() string {
	var b [Bytes]byte
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+:
	// it crashes the program irrecoverably instead of returning weak bytes).
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Key derives the store key from a token: the SHA-256 of the token,
// base64url. A dump of the store therefore hands out no live session.
func Key(token string) string { return KeyIn("", token) }

// KeyIn derives the store key of token in a domain: the SHA-256 of domain
// followed by token, base64url. Tokens carried in different ways (a header
// session, a cookie a script cannot set) get keys in their own domains, so
// a token moved to another carrier names no record.
func KeyIn(domain, token string) string {
	// Stack buffers: a domain and a token fit in 96 bytes, so hashing and
	// encoding them allocate only the returned string.
	var in [96]byte
	var sum [sha256.Size]byte
	if len(domain)+len(token) <= len(in) {
		n := copy(in[:], domain)
		n += copy(in[n:], token)
		sum = sha256.Sum256(in[:n])
	} else {
		sum = sha256.Sum256([]byte(domain + token))
	}
	var out [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// Valid reports whether s has the exact shape of a token issued by New: 43
// characters of the base64url alphabet whose last character encodes no
// stray bits. It allocates nothing.
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isB64(s[i]) {
			return false
		}
	}
	// 43 chars carry 258 bits; the last char's two low bits must be zero for
	// a canonical encoding of 32 bytes.
	return b64val(s[Len-1])&0x3 == 0
}

// isB64 reports whether c is in the base64url alphabet.
func isB64(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

func b64val(c byte) byte {
	switch {
	case c >= 'A' && c <= 'Z':
		return c - 'A'
	case c >= 'a' && c <= 'z':
		return c - 'a' + 26
	case c >= '0' && c <= '9':
		return c - '0' + 52
	case c == '-':
		return 62
	default: // '_'
		return 63
	}
}

// Signer signs tokens with the first of its keys and verifies them with
// any (internal/signing). Signing is optional defence in depth: a token is
// already 256 random bits, but a signed one lets the server refuse a
// forged or guessed ID without a store round trip, and rotating keys logs
// nobody out.
type Signer struct {
	Keys [][]byte
}

// Sign returns "token.mac" with the primary key.
func (s *Signer) Sign(token string) string { return signing.Sign(s.Keys[0], token) }

// Verify splits and checks a signed value. ok is false for an unsigned,
// malformed or forged value; primary is false when an older key verified it
// (the caller re-issues the cookie under the primary key).
func (s *Signer) Verify(v string) (token string, ok, primary bool) {
	token, tag, ok := signing.Split(v)
	if !ok || !Valid(token) {
		return "", false, false
	}
	key, ok := signing.Verify(s.Keys, token, tag)
	if !ok {
		return "", false, false
	}
	return token, true, key == 0
}

// ReadCookie returns the raw value of the first cookie called name in the
// request's Cookie headers, without allocating. present is false when there is
// no such cookie. Values longer than limit are returned truncated to "" with
// present true, so the caller treats them as malformed.
func ReadCookie(h http.Header, name string, limit int) (value string, present bool) {
	for _, line := range h["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			n, v, ok := strings.Cut(part, "=")
			if !ok || n != name {
				continue
			}
			if len(v) > limit {
				return "", true
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

// ReadHeader reads a token sent in a request header: for Authorization,
// the credentials of the Bearer scheme; for any other header, its value.
func ReadHeader(h http.Header, name string) (string, bool) {
	v := h.Get(name)
	if v == "" {
		return "", false
	}
	if len(v) > MaxValue+len("Bearer ") {
		return "", true
	}
	if http.CanonicalHeaderKey(name) == "Authorization" {
		scheme, cred, found := strings.Cut(v, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") {
			return "", false // another scheme (Basic...): not ours
		}
		v = strings.TrimSpace(cred)
	}
	return v, true
}

// A header session's token is its family's part (FamilyPartLen random
// characters, the same for every token of the session) followed by a
// fresh 256-bit secret (Len characters). The family part is how a retired
// token is recognised as its session's for as long as the session can
// live, with nothing kept per retired token: only someone who held a token
// of the session knows it. The store sees only hashes of both.
const (
	familyPartBytes = 18 // a multiple of 3: no stray bits in its encoding
	// FamilyPartLen is the length of a header token's family part.
	FamilyPartLen = familyPartBytes / 3 * 4
	// HeaderLen is the length of a header session's token.
	HeaderLen = FamilyPartLen + Len
)

// NewHeader returns the first token of a new header session.
func NewHeader() string {
	var b [familyPartBytes]byte
	_, _ = rand.Read(b[:]) // never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:]) + New()
}

// NextHeader returns the token that succeeds token in its session.
func NextHeader(token string) string { return token[:FamilyPartLen] + New() }

// ValidHeader reports whether s has the exact shape of a header session's
// token. It allocates nothing.
func ValidHeader(s string) bool {
	if len(s) != HeaderLen {
		return false
	}
	for i := range FamilyPartLen {
		if !isB64(s[i]) {
			return false
		}
	}
	return Valid(s[FamilyPartLen:])
}

// HeaderKey is the store key of a header session's token: a hash in its
// own domain, so that a cookie token and a header token never name the same
// record.
func HeaderKey(token string) string { return KeyIn("hdr:", token) }

// HeaderFamily is the family (Meta.Family) of the header session token
// belongs to: a hash of its family part, in its own domain.
func HeaderFamily(token string) string { return KeyIn("hdrfam:", token[:FamilyPartLen]) }
