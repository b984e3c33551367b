package session

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sessionkit/session/internal/sealing"
	"github.com/sessionkit/session/internal/wire"
)

// MaxCookieSize bounds a Set-Cookie header of a [CookieStore] session
// (name, value and attributes): the 4096 bytes every browser keeps
// (RFC 6265 section 6.1). A change that would pass it fails with
// [ErrTooLarge] instead of producing a cookie the browser drops.
const MaxCookieSize = 4096

// CookieStore keeps no session on the server: the whole record (random
// session ID, user, timestamps, per-session settings, values) travels in
// the session cookie, sealed with AES-256-GCM and bound to the cookie's
// name. Use it as [Config.Store] for stateless deployments (serverless,
// edge, several instances without a shared store):
//
//	cs, err := session.NewCookieStore(key, oldKey) // 32 random bytes each
//	m, err := session.New(session.Config{Store: cs})
//
// The Manager recognises it and changes mode: it opens the cookie instead
// of loading a record, and every commit that changes something (a value, a
// setting, the throttled touch, Login, Renew) re-seals the record with a
// fresh nonce into a new Set-Cookie. Idle and absolute timeouts are
// enforced from the sealed timestamps, so a replayed old cookie is dead
// past its deadlines even though the server keeps nothing. A cookie that
// does not open (tampered, truncated, sealed under a dropped key, renamed)
// is a fresh session and a [EventRejected] event with reason "unsealable",
// never an error page.
//
// What stateless cannot do is explicit:
//   - Logout expires the browser's cookie, but a copy of it taken earlier
//     stays valid until its idle or absolute deadline; keep the timeouts
//     short. [Manager.Sessions] and [Manager.Revoke] return an error
//     wrapping [errors.ErrUnsupported], and so do [Manager.RevokeUser] and
//     [Session.RevokeOthers] unless a revocation list is configured (see
//     [CookieStore.WithRevocations]); [Config.MaxSessionsPerUser] is a
//     configuration error.
//   - Concurrent requests of one session are last-writer-wins on the whole
//     cookie: each response carries the record as its request saw it.
//   - The cookie holds at most [MaxCookieSize] bytes; Set returns an error
//     wrapping [ErrTooLarge] past it.
//   - Changes can only be sent before the response headers go out (Set then
//     returns [ErrHeadersSent]).
//   - [Config.TokenHeader] is a configuration error; [Config.SigningKeys]
//     are not used (the seal already authenticates).
//
// Keys rotate: the first key seals, every key opens, and a cookie opened
// under an older key is re-sealed under the first on the same response.
// Put a new key first, keep the old one for one absolute timeout, then drop
// it.
//
// The server keeps nothing, so it cannot see a session expire: it does not
// implement [ExpiryNotifier], and a sealed session nobody comes back for
// ends without an event.
//
// Its [Store] methods exist so that it can be a Config.Store; the Manager
// does not call them. Load and Update report [ErrNotFound] (the server
// keeps nothing), Create an error wrapping [errors.ErrUnsupported], Delete
// nothing.
type CookieStore struct {
	ring        *sealing.Ring
	ad          atomic.Pointer[cookieAD] // of the last cookie name used
	revocations Store                    // see WithRevocations; nil: none
}

// cookieAD is the additional data of cookies called name.
type cookieAD struct {
	name string
	ad   []byte
}

// adFor returns the additional data binding a cookie to its name.
func (c *CookieStore) adFor(name string) []byte {
	if a := c.ad.Load(); a != nil && a.name == name {
		return a.ad
	}
	a := &cookieAD{name: name, ad: sealing.AD(cookiePurpose, name)}
	c.ad.Store(a)
	return a.ad
}

// NewCookieStore returns a CookieStore sealing with the first key and
// opening with any. Each key must be 32 bytes from crypto/rand; an empty
// older key is skipped (pass nil when there is no old key). It returns an
// error wrapping [ErrInvalidConfig] for a missing, short or repeated key.
func NewCookieStore(keys ...[]byte) (*CookieStore, error) {
	ring, err := sealing.NewRing("cookie store", keys, ErrInvalidConfig)
	if err != nil {
		return nil, err
	}
	return &CookieStore{ring: ring}, nil
}

// Load reports ErrNotFound: a CookieStore keeps nothing on the server.
func (*CookieStore) Load(context.Context, string) (*Record, error) {
	return nil, fmt.Errorf("session: cookie store keeps no record on the server: %w", ErrNotFound)
}

// Create fails with an error wrapping errors.ErrUnsupported: the Manager
// writes a CookieStore's records into cookies, never through Create.
func (*CookieStore) Create(context.Context, string, *Record) error {
	return fmt.Errorf("session: cookie store: Create: records travel in the cookie: %w", errors.ErrUnsupported)
}

// Update reports ErrNotFound: a CookieStore keeps nothing on the server.
func (*CookieStore) Update(context.Context, string, *Delta) error {
	return fmt.Errorf("session: cookie store keeps no record on the server: %w", ErrNotFound)
}

// Delete does nothing: the Manager expires the cookie.
func (*CookieStore) Delete(context.Context, string) error { return nil }

// cookieSealer is how the Manager recognises a store whose records travel
// in the cookie (CookieStore). Unexported: only this package provides one.
type cookieSealer interface {
	// sealCookie returns the cookie value carrying (token, r), sealed for
	// the cookie called name.
	sealCookie(name, token string, r *Record) string
	// openCookie opens a cookie value; primary is false when an older key
	// sealed it. Any failure is [sealing.ErrUnsealable].
	openCookie(name, value string) (token string, r *Record, primary bool, err error)
	// revocationList returns the store of the revocation list, or nil
	// (see CookieStore.WithRevocations).
	revocationList() Store
}

// cookiePurpose separates sealed cookies from sealed values, and names the
// format's version.
const cookiePurpose = "sessionkit cookie v1"

// cookieB64 encodes sealed cookies: base64url, unpadded, canonical only.
var cookieB64 = base64.RawURLEncoding.Strict()

func (c *CookieStore) revocationList() Store { return c.revocations }

func (c *CookieStore) sealCookie(name, token string, r *Record) string {
	plain := wire.AppendCookie(make([]byte, 0, 256), token, r)
	env := c.ring.Seal(make([]byte, 0, sealing.SealedLen(len(plain))), plain, c.adFor(name))
	return cookieB64.EncodeToString(env)
}

func (c *CookieStore) openCookie(name, value string) (string, *Record, bool, error) {
	if len(value) > MaxCookieSize || len(value) < cookieB64.EncodedLen(sealing.Overhead) {
		return "", nil, false, sealing.ErrUnsealable
	}
	// One buffer: the value's bytes, then the envelope decoded from them,
	// opened in place.
	buf := make([]byte, len(value)+cookieB64.DecodedLen(len(value)))
	src, env := buf[:copy(buf, value)], buf[len(value):]
	n, err := cookieB64.Decode(env, src)
	if err != nil {
		return "", nil, false, sealing.ErrUnsealable
	}
	plain, primary, err := c.ring.Open(env[sealing.Header:sealing.Header], env[:n], c.adFor(name))
	if err != nil {
		return "", nil, false, err
	}
	token, r, ok := wire.DecodeCookie(plain)
	if !ok || !validToken(token) {
		return "", nil, false, sealing.ErrUnsealable
	}
	return token, r, primary, nil
}

// sealedCookieLen is the length of the cookie value sealing a plaintext of
// n bytes.
func sealedCookieLen(n int) int { return cookieB64.EncodedLen(sealing.SealedLen(n)) }
