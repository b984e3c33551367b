package session

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"
)

// The optional revocation list of a CookieStore: log out everywhere
// without keeping sessions on the server. A small server store keeps, per
// user, the time the user was last logged out everywhere; a sealed cookie
// carries the time its login was stamped (Meta.Generation, in Unix
// nanoseconds, unused otherwise in cookie mode). A logged-in cookie whose
// stamp is older than its user's revocation is dead. Each logged-in request
// then costs one read of that store; anonymous requests none.

// WithRevocations returns a CookieStore that keeps a revocation list in st
// (a memory, Redis or SQL store; one shared by every instance), so that
// [Manager.RevokeUser] and [Session.RevokeOthers] work: every session of
// the user sealed before the revocation is refused (a [EventRejected]
// event with reason "revoked") from its next request on. It costs one read
// of st per logged-in request, and st holds one small record per revoked
// user for one absolute timeout, after which every session it revoked has
// expired anyway. [Manager.Sessions] and [Manager.Revoke] stay unsupported:
// the server still keeps no list of sessions. The instances' clocks must
// agree (NTP): a login stamped by a clock behind the revoking one's is
// refused until that clock passes the revocation.
func (c *CookieStore) WithRevocations(st Store) *CookieStore {
	return &CookieStore{ring: c.ring, revocations: st}
}

// revocationKey is where st keeps the revocation of userID: a hash, shaped
// like every other store key, so a dump does not list user IDs.
func revocationKey(userID string) string {
	sum := sha256.Sum256([]byte("sessionkit cookie revocation\x00" + userID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// stampLogin gives a logged-in record its login stamp (Meta.Generation)
// when it has none: the time of its Login. Called before every seal.
func stampLogin(m *Meta) {
	if m.UserID != "" && m.Generation == 0 && !m.AuthenticatedAt.IsZero() {
		m.Generation = uint64(m.AuthenticatedAt.UnixNano())
	}
}

// revoked reports whether rec was sealed before its user was logged out
// everywhere; never without a revocation list. The caller holds s.mu.
func (c *cookieCarrier) revoked(ctx context.Context, s *Session, rec *Record) (bool, error) {
	if c.revocations == nil || rec.UserID == "" {
		return false, nil
	}
	at, err := s.revocationLoad(ctx, c.revocations, revocationKey(rec.UserID))
	if err != nil || at.IsZero() {
		return false, err
	}
	return rec.Generation <= uint64(at.UnixNano()), nil
}

// writeRevocation logs userID out everywhere: it records in the
// revocation list that the user's cookies stamped until now are dead, and
// returns that time.
func (c *cookieCarrier) writeRevocation(ctx context.Context, userID string) (time.Time, error) {
	m, rv := c.m, c.revocations
	if rv == nil {
		return time.Time{}, ErrNoIndex
	}
	// Kept for one absolute timeout: every session stamped before now was
	// created before now, so it has expired by then.
	now := m.now()
	r := &Record{Meta: Meta{CreatedAt: now, LastSeen: now, Expires: now.Add(m.cfg.AbsoluteTimeout), Linger: m.cfg.RotationGrace}}
	if err := m.revocationSet(ctx, rv, revocationKey(userID), r); err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// revokeUser is Manager.RevokeUser in cookie mode.
func (c *cookieCarrier) revokeUser(ctx context.Context, userID string) error {
	if _, err := c.writeRevocation(ctx, userID); err != nil {
		return err
	}
	c.m.emit(ctx, Event{Kind: EventRevoked, UserID: userID, Reason: "revoke_user"})
	return nil
}

// revokeOthers is Session.RevokeOthers in cookie mode: the user is logged
// out everywhere, then this session gets a fresh ID and a stamp after the
// revocation.
func (c *cookieCarrier) revokeOthers(ctx context.Context, s *Session) error {
	m := c.m
	if c.revocations == nil {
		return ErrNoIndex
	}
	s.mu.Lock()
	defer s.unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if s.rec == nil || s.rec.UserID == "" {
		return ErrNoUser
	}
	user := s.rec.UserID
	at, err := c.writeRevocation(ctx, user)
	if err != nil {
		return err
	}
	meta := s.rec.Meta
	meta.LastSeen = m.now()
	if err := s.rotate(ctx, &Rotation{Meta: meta, Delta: s.pending()}); err != nil {
		return err
	}
	s.rec.Generation = uint64(at.UnixNano()) + 1
	s.queue(s.event(EventRevoked, s.token, user, "revoke_others"))
	return nil
}

// sessions is Manager.Sessions in cookie mode: the server keeps no list of
// the sessions.
func (*cookieCarrier) sessions(context.Context, string) ([]IndexedRecord, error) {
	return nil, ErrNoIndex
}

// revoke is Manager.Revoke in cookie mode: the server keeps nothing to end.
func (*cookieCarrier) revoke(context.Context, string, string) error {
	return fmt.Errorf("session: revoke: %w", ErrNoIndex)
}
