package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strings"
	"time"

	"github.com/sessionkit/session/internal/signing"
)

// tokenBytes is the entropy of a session token: 256 bits from crypto/rand.
const tokenBytes = 32

// tokenLen is the length of a token encoded as unpadded base64url.
const tokenLen = 43

// maxCookieValue bounds what the transport will even look at: anything longer
// is rejected before it is decoded, hashed or sent to a store.
const maxCookieValue = 256

// newToken returns a fresh 256-bit session token, base64url without padding.
func newToken() string {
	var b [tokenBytes]byte
	// crypto/rand.Read never returns an error on supported platforms (Go 1.24+:
	// it crashes the program irrecoverably instead of returning weak bytes).
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// storeKey derives the store key from a token: the SHA-256 of the token,
// base64url. A dump of the store therefore hands out no live session.
func storeKey(token string) string {
	// Stack buffers: a token is 43 bytes, so hashing and encoding it
	// allocate only the returned string.
	var in [64]byte
	var sum [sha256.Size]byte
	if len(token) <= len(in) {
		sum = sha256.Sum256(in[:copy(in[:], token)])
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	var out [43]byte // base64.RawURLEncoding.EncodedLen(sha256.Size)
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// validToken reports whether s has the exact shape of a token issued by
// newToken: 43 characters of the base64url alphabet whose last character
// encodes no stray bits. It allocates nothing.
func validToken(s string) bool {
	if len(s) != tokenLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isB64(s[i]) {
			return false
		}
	}
	// 43 chars carry 258 bits; the last char's two low bits must be zero for
	// a canonical encoding of 32 bytes.
	return b64val(s[tokenLen-1])&0x3 == 0
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

// signer signs tokens with the first of Config.SigningKeys and verifies them
// with any (internal/signing). Signing is optional defence in depth: a token
// is already 256 random bits, but a signed one lets the server refuse a
// forged or guessed ID without a store round trip, and rotating keys logs
// nobody out.
type signer struct {
	keys [][]byte
}

// sign returns "token.mac" with the primary key.
func (s *signer) sign(token string) string { return signing.Sign(s.keys[0], token) }

// verify splits and checks a signed value. ok is false for an unsigned,
// malformed or forged value; primary is false when an older key verified it
// (the caller re-issues the cookie under the primary key).
func (s *signer) verify(v string) (token string, ok, primary bool) {
	token, tag, ok := signing.Split(v)
	if !ok || !validToken(token) {
		return "", false, false
	}
	key, ok := signing.Verify(s.keys, token, tag)
	if !ok {
		return "", false, false
	}
	return token, true, key == 0
}

// readCookie returns the raw value of the first cookie called name in the
// request's Cookie headers, without allocating. present is false when there is
// no such cookie. Values longer than maxCookieValue are returned truncated to
// "" with present true, so the caller treats them as malformed.
func readCookie(h http.Header, name string) (value string, present bool) {
	return readCookieLimit(h, name, maxCookieValue)
}

// readCookieLimit is readCookie with limit in place of maxCookieValue.
func readCookieLimit(h http.Header, name string, limit int) (value string, present bool) {
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

// presented is what the transport found in a request.
type presented struct {
	token   string // the raw token (unsigned part); the raw value if refused
	present bool   // the request carried a value at all
	reason  string // "" when acceptable, else why it is refused
	resign  bool   // verified by an older signing key: re-issue it
}

// readToken returns the session token the request presents, from the cookie
// or, when Config.TokenHeader is set, from that header. It never looks at the
// URL. Malformed, oversized, unsigned or forged values are refused here,
// before any store lookup.
func (m *Manager) readToken(r *http.Request) presented {
	var v string
	var ok bool
	if m.cfg.TokenHeader != "" {
		v, ok = readHeaderToken(r.Header, m.cfg.TokenHeader)
	} else {
		v, ok = readCookie(r.Header, m.cfg.Cookie.Name)
	}
	legacy := false
	if !ok && m.legacyCookie != "" {
		v, ok = readCookie(r.Header, m.legacyCookie)
		legacy = ok
	}
	if !ok {
		return presented{}
	}
	if m.signer != nil {
		tok, valid, primary := m.signer.verify(v)
		if !valid {
			return presented{token: v, present: true, reason: "bad_signature"}
		}
		return presented{token: tok, present: true, resign: !primary || legacy}
	}
	if !validToken(v) {
		return presented{token: v, present: true, reason: "malformed"}
	}
	// A token read under the old name is re-issued under the current one.
	return presented{token: v, present: true, resign: legacy}
}

// presentsLegacyCookie reports whether r carries the session cookie under
// its name in earlier releases (see CookieConfig.Name).
func (m *Manager) presentsLegacyCookie(r *http.Request) bool {
	if m.legacyCookie == "" {
		return false
	}
	_, ok := readCookie(r.Header, m.legacyCookie)
	return ok
}

// legacyCookieExpiry is the Set-Cookie header value that deletes the
// session cookie of earlier releases.
func (m *Manager) legacyCookieExpiry() string {
	c := &m.cfg.Cookie
	ck := http.Cookie{Name: m.legacyCookie, Path: "/", Secure: true, HttpOnly: true, SameSite: c.SameSite, MaxAge: -1}
	return ck.String()
}

// readHeaderToken reads a token sent in a request header: for Authorization,
// the credentials of the Bearer scheme; for any other header, its value.
func readHeaderToken(h http.Header, name string) (string, bool) {
	v := h.Get(name)
	if v == "" {
		return "", false
	}
	if len(v) > maxCookieValue+len("Bearer ") {
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

// responseTokenHeader is the header carrying a new token to API clients in
// header-transport mode: the request header itself, or X-Auth-Token when the
// request uses Authorization.
func (m *Manager) responseTokenHeader() string {
	if http.CanonicalHeaderKey(m.cfg.TokenHeader) == "Authorization" {
		return "X-Auth-Token"
	}
	return m.cfg.TokenHeader
}

// writeToken hands the client its token: Set-Cookie, or the response token
// header in header mode. maxAge > 0 makes the cookie persistent.
func (m *Manager) writeToken(h http.Header, token string, maxAge time.Duration) {
	if m.signer != nil {
		token = m.signer.sign(token)
	}
	if m.cfg.TokenHeader != "" {
		h.Set(m.responseTokenHeader(), token)
		return
	}
	h.Add("Set-Cookie", m.cookieHeader(token, maxAge))
}

// expireToken tells the client to forget its token: an expired cookie (same
// name, path and domain, empty value, Max-Age=0), or an empty token header.
func (m *Manager) expireToken(h http.Header) {
	if m.cfg.TokenHeader != "" {
		h.Set(m.responseTokenHeader(), "")
		return
	}
	h.Add("Set-Cookie", m.cookieHeader("", -1))
}

// cookieHeader builds the Set-Cookie header value carrying token. maxAge > 0
// makes it persistent; maxAge < 0 expires it (Max-Age=0, empty value).
func (m *Manager) cookieHeader(token string, maxAge time.Duration) string {
	c := &m.cfg.Cookie
	ck := http.Cookie{
		Name:        c.Name,
		Value:       token,
		Path:        c.Path,
		Domain:      c.Domain,
		Secure:      !c.AllowInsecure,
		HttpOnly:    true,
		SameSite:    c.SameSite,
		Partitioned: c.Partitioned,
	}
	switch {
	case maxAge < 0:
		ck.Value = ""
		ck.MaxAge = -1 // serialised as Max-Age=0
	case maxAge > 0:
		secs := int(maxAge / time.Second)
		if secs < 1 {
			secs = 1
		}
		ck.MaxAge = secs
	}
	return ck.String()
}
