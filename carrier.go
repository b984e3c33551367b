package session

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// How a session travels between requests. A session is carried either as
// a token naming a record the store keeps (storeCarrier) or as the sealed
// record itself in the cookie (cookieCarrier, cookiemode.go). New chooses
// the carrier once (newCarrier); the Manager's features call it and never
// ask which one it is, so a feature cannot behave differently by accident
// (say, skip the durable write of a revocation) on one of them.

// carrier is what differs between the ways a session travels. Its Session
// methods are called with s.mu held.
type carrier interface {
	// load reads the request's session into s (see Session.load).
	load(s *Session)

	// create, update, delete, end and rotate are the writes of the store
	// door (storage.go): Session.storeCreate and the others hand over to
	// them.
	create(ctx context.Context, s *Session, op, key string, r *Record) error
	update(ctx context.Context, s *Session, op, key string, d *Delta) error
	delete(ctx context.Context, s *Session, op, key string) error
	end(ctx context.Context, s *Session, op, key string, meta *Meta) error
	rotate(ctx context.Context, s *Session, rot *Rotation) ([]IndexedRecord, error)

	// sendToken writes the header that carries the session to the client
	// as the response headers go out; maxAge > 0 makes a cookie
	// persistent.
	sendToken(s *Session, h http.Header, maxAge time.Duration)
	// needsSend reports, for a stored session, whether committing now
	// needs a header only the response's headers can carry (see
	// Session.needsNewCookie).
	needsSend(s *Session) bool
	// setFits reports whether the session can take key = b (Session.Set)
	// where it travels.
	setFits(s *Session, key string, b []byte) error

	// check is Session.Check of a stored session: nil while it is live.
	check(ctx context.Context, s *Session) error

	// The devices features (devices.go), after their arguments were
	// checked.
	sessions(ctx context.Context, userID string) ([]IndexedRecord, error)
	revoke(ctx context.Context, userID, handle string) error
	revokeUser(ctx context.Context, userID string) error
	revokeOthers(ctx context.Context, s *Session) error
}

// newCarrier chooses how m's sessions travel: in the cookie when its store
// is a CookieStore, by token otherwise. It returns an error wrapping
// ErrInvalidConfig for settings the chosen carrier cannot honour.
func newCarrier(m *Manager) (carrier, error) {
	c, err := newCookieCarrier(m)
	if err != nil {
		return nil, err
	}
	if c != nil {
		return c, nil
	}
	return &storeCarrier{m: m}, nil
}

// storeCarrier carries a session as a token (a cookie or a header) naming
// the record the store keeps. Its methods live beside the code that uses
// them: load in session.go, the writes in storage.go, check in live.go,
// the devices features in devices.go.
type storeCarrier struct{ m *Manager }

// sendToken hands the client its token. A token the request presented and
// only re-issues (re-signed with the primary key), without writing its
// record, is sent only while that record is still there: another request
// may have renewed or ended the session since this one loaded it, and the
// renewed cookie, maybe already in the browser, must not be overwritten by
// the retired ID. That is one store read, on those rare responses only; a
// failed read sends the token as before. A session not moved off the legacy
// cookie name (a fetch: see Session.renewAtCommit) keeps its token there:
// under the current name, its key names no record (see Manager.keyOf).
func (c *storeCarrier) sendToken(s *Session, h http.Header, maxAge time.Duration) {
	if s.reissue && s.token == c.m.readToken(s.req).token {
		if _, err := c.m.store.Load(s.req.Context(), s.key); errors.Is(err, ErrNotFound) {
			s.reissueGone = true
			return
		}
	}
	name := c.m.cfg.Cookie.Name
	if s.legacyMove {
		name = c.m.legacyCookie
	}
	c.m.writeToken(h, name, s.token, maxAge)
}

// needsSend reports whether the session's token is one the client does
// not have yet (a renewal).
func (c *storeCarrier) needsSend(s *Session) bool {
	return s.sendCookie && s.token != c.m.readToken(s.req).token
}

// setFits accepts every value: the store's own limits (memcachedstore's
// item size) are its writes' errors.
func (*storeCarrier) setFits(*Session, string, []byte) error { return nil }
