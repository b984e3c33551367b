package session

import (
	"errors"
	"fmt"

	"github.com/sessionkit/session/internal/storekit"
)

// The errors of this package, for errors.Is. Every error the Manager, a
// Session or a store returns wraps one of these (or a context error).
var (
	// ErrNotFound reports that no live record exists under a key: it never
	// existed, it expired, it was deleted, or its user was revoked. A
	// [Tombstone] matches it.
	ErrNotFound = storekit.ErrNotFound
	// ErrStore wraps any failure of the backing store (network, protocol,
	// corrupt data). The middleware turns it into the error handler's
	// response.
	ErrStore = storekit.ErrStore
	// ErrCorrupt is wrapped, together with [ErrStore], by a store that
	// found a record it cannot decode (a codec change, a partial write, a
	// hand edit) under the key it was asked for.
	ErrCorrupt = storekit.ErrCorrupt
	// ErrCapacity is returned (wrapped) by a store that refuses a new
	// record because it is full (see [WithMaxRecords]). The Manager reports
	// it as [EventCapacity].
	ErrCapacity = storekit.ErrCapacity
	// ErrTooManySessions is returned by Login when the user already has
	// Config.MaxSessionsPerUser sessions and Config.RefuseOverLimit is set.
	ErrTooManySessions = storekit.ErrTooManySessions

	// ErrInvalidConfig is wrapped by every error [New] returns for an
	// unsafe or contradictory Config.
	ErrInvalidConfig = errors.New("session: invalid config")
	// ErrNoIndex is returned by device operations when the store does not
	// implement [UserIndex] (a CookieStore among them). It wraps
	// errors.ErrUnsupported.
	ErrNoIndex = fmt.Errorf("session: store keeps no per-user index: %w", errors.ErrUnsupported)
	// ErrTooLarge is wrapped by the errors of changes that would make a
	// session larger than where it is kept allows: Session.Set, Login and
	// the other changes that would make a sealed cookie (see
	// [CookieStore]) longer than 4096 bytes (nothing is changed: the
	// previous values stay), and a store's writes past its item size limit
	// (memcachedstore).
	ErrTooLarge = errors.New("session: too large")

	// ErrHeadersSent is returned by changes that need a Set-Cookie (Login,
	// Renew, Destroy, or the first value of a new session) once the
	// response headers have gone out: the browser could no longer learn of
	// them.
	ErrHeadersSent = errors.New("session: response headers already sent")
	// ErrEncode wraps a codec failure in Set: the value was not stored.
	ErrEncode = errors.New("session: cannot encode value")
	// ErrNoUser is returned by Login with an empty user ID and by
	// operations that need an authenticated session.
	ErrNoUser = errors.New("session: no user")
	// ErrRotated is returned by Set and the other changes that would start
	// a new anonymous session, on a request that carries an ID renewed a
	// moment ago by another request (see Config.RotationGrace): its new
	// cookie would overwrite the renewed one in the browser. The request
	// can read nothing but may still Login.
	ErrRotated = errors.New("session: ID renewed by a concurrent request")
	// ErrNoSession is returned by every method of the detached Session
	// that [FromContext] returns for a context that did not come through
	// [Manager.Handler]: the handler is mounted outside the middleware, or
	// its router replaced the request's context.
	ErrNoSession = errors.New("session: no session in this context: wrap the handler with Manager.Handler (gin: use ginsession)")
	// ErrReused is wrapped (together with [ErrNotFound]) by the error of
	// [Manager.Rotate] when the token was already rotated: presented again
	// after the grace period, or a second time within it. The whole session
	// (every later token of it) has been ended: whoever holds it, the thief
	// or the owner, must authenticate again.
	ErrReused = errors.New("session: rotated token presented again")
)
