package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionkit/session/internal/cookieseal"
	"github.com/sessionkit/session/internal/sealing"
)

// maxCookieSize bounds a Set-Cookie header of a [CookieStore] session
// (name, value and attributes): the 4096 bytes every browser keeps
// (RFC 6265 section 6.1). A change that would pass it fails with
// [ErrTooLarge] instead of producing a cookie the browser drops.
const maxCookieSize = 4096

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
//   - The cookie holds at most 4096 bytes; Set returns an error
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
	sealer      *cookieseal.Sealer
	revocations Store // see WithRevocations; nil: none
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
	return &CookieStore{sealer: cookieseal.New(ring)}, nil
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

func (c *CookieStore) revocationList() Store { return c.revocations }

func (c *CookieStore) sealCookie(name, token string, r *Record) string {
	return c.sealer.Seal(name, token, r)
}

func (c *CookieStore) openCookie(name, value string) (string, *Record, bool, error) {
	return c.sealer.Open(name, value, maxCookieSize)
}
