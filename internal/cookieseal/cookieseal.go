// Package cookieseal is the format of package session's sealed cookies
// (CookieStore): a session's token and record (internal/wire), sealed
// with AES-256-GCM (internal/sealing) and bound to the cookie's name,
// then base64url. The same plaintext sealed for another cookie name does
// not open.
package cookieseal

import (
	"crypto/sha256"
	"encoding/base64"
	"iter"
	"sync/atomic"
	"time"

	"github.com/sessionkit/session/internal/sealing"
	"github.com/sessionkit/session/internal/sid"
	"github.com/sessionkit/session/internal/storekit"
	"github.com/sessionkit/session/internal/wire"
)

// purpose separates sealed cookies from sealed values, and names the
// format's version.
const purpose = "sessionkit cookie v1"

// b64 encodes sealed cookies: base64url, unpadded, canonical only.
var b64 = base64.RawURLEncoding.Strict()

// Sealer seals and opens cookies under a key ring. It is safe for
// concurrent use.
type Sealer struct {
	ring *sealing.Ring
	ad   atomic.Pointer[boundAD] // of the last cookie name used
}

// boundAD is the additional data of cookies called name.
type boundAD struct {
	name string
	ad   []byte
}

// New returns a Sealer sealing with ring's first key and opening with any.
func New(ring *sealing.Ring) *Sealer { return &Sealer{ring: ring} }

// adFor returns the additional data binding a cookie to its name.
func (s *Sealer) adFor(name string) []byte {
	if a := s.ad.Load(); a != nil && a.name == name {
		return a.ad
	}
	a := &boundAD{name: name, ad: sealing.AD(purpose, name)}
	s.ad.Store(a)
	return a.ad
}

// Seal returns the value of the cookie called name carrying (token, r).
func (s *Sealer) Seal(name, token string, r *storekit.Record) string {
	plain := wire.AppendCookie(make([]byte, 0, 256), token, r)
	env := s.ring.Seal(make([]byte, 0, sealing.SealedLen(len(plain))), plain, s.adFor(name))
	return b64.EncodeToString(env)
}

// Open opens the value of the cookie called name, refusing one longer
// than limit bytes. primary is false when an older key sealed it. Any
// failure is [sealing.ErrUnsealable].
func (s *Sealer) Open(name, value string, limit int) (token string, r *storekit.Record, primary bool, err error) {
	if len(value) > limit || len(value) < b64.EncodedLen(sealing.Overhead) {
		return "", nil, false, sealing.ErrUnsealable
	}
	// One buffer: the value's bytes, then the envelope decoded from them,
	// opened in place.
	buf := make([]byte, len(value)+b64.DecodedLen(len(value)))
	src, env := buf[:copy(buf, value)], buf[len(value):]
	n, err := b64.Decode(env, src)
	if err != nil {
		return "", nil, false, sealing.ErrUnsealable
	}
	plain, primary, err := s.ring.Open(env[sealing.Header:sealing.Header], env[:n], s.adFor(name))
	if err != nil {
		return "", nil, false, err
	}
	token, r, ok := wire.DecodeCookie(plain)
	if !ok || !sid.Valid(token) {
		return "", nil, false, sealing.ErrUnsealable
	}
	return token, r, primary, nil
}

// Len is the length of the cookie value sealing a plaintext of n bytes.
func Len(n int) int { return b64.EncodedLen(sealing.SealedLen(n)) }

// ValueLen is the length of the cookie value that seals a record with meta
// and values (stamped as Seal's callers stamp it, StampLogin), plus room
// for reserve more bytes of plaintext when no value is named reserveKey:
// for a value the session's first commit will add.
func ValueLen(meta *storekit.Meta, values iter.Seq2[string, []byte], reserveKey string, reserve int) int {
	stamped := *meta
	StampLogin(&stamped)
	has := false
	n := wire.CookieLen(sid.Len, &stamped, func(yield func(string, []byte) bool) {
		values(func(k string, v []byte) bool {
			has = has || k == reserveKey
			return yield(k, v)
		})
	})
	if !has {
		n += reserve
	}
	return Len(n)
}

// The login stamp of a sealed cookie, for the optional revocation list of
// package session's CookieStore: a logged-in cookie carries the time of
// its login (Meta.Generation, in Unix nanoseconds, unused otherwise in
// cookie mode); the list keeps, per user, the time of the last "log out
// everywhere". Both compare at one resolution, rounding towards revoking.

// RevocationKey is where the revocation list keeps userID's revocation: a
// hash, shaped like every other store key, so a dump does not list user
// IDs.
func RevocationKey(userID string) string {
	sum := sha256.Sum256([]byte("sessionkit cookie revocation\x00" + userID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// StampLogin gives a logged-in record its login stamp when it has none:
// the time of its Login, which is its creation, or its authentication if
// later. An adopted legacy session (package session's Config.Import)
// records an earlier authentication, or none: it is stamped when it was
// adopted, as a server store counts it from then. Called before every
// seal.
func StampLogin(m *storekit.Meta) {
	at := m.CreatedAt
	if m.AuthenticatedAt.After(at) {
		at = m.AuthenticatedAt
	}
	if m.UserID != "" && m.Generation == 0 && !at.IsZero() {
		m.Generation = uint64(at.UnixNano())
	}
}

// tick is the one resolution at which revocation times and login stamps
// compare: the coarsest a store of package session keeps times at (a
// RedisStore keeps milliseconds), so that what the store dropped cannot
// decide.
const tick = int64(time.Millisecond)

// RevokedBy reports whether a cookie whose login was stamped at stamp
// (Unix nanoseconds) is dead by a revocation at at. Rounding towards
// revoking: a stamp in the revocation's own tick is revoked, whether it
// fell before or after it, as the store may have kept the revocation's
// time truncated.
func RevokedBy(stamp uint64, at time.Time) bool {
	return int64(stamp)/tick <= at.UnixNano()/tick
}

// StampAfter returns a login stamp that the revocation at at does not
// revoke: one in a later tick. It waits (at most a tick, in a rare
// operation) for now to get there rather than stamping ahead of the
// clock: a stamp ahead of the clock would escape a revocation landing
// before the clock reaches it. A clock that does not move (a test's) gets
// the next tick all the same.
func StampAfter(at time.Time, now func() time.Time) uint64 {
	next := (at.UnixNano()/tick + 1) * tick
	for range 2 {
		wait := next - now().UnixNano()
		if wait <= 0 {
			break
		}
		time.Sleep(time.Duration(wait))
	}
	return uint64(max(next, now().UnixNano()))
}
