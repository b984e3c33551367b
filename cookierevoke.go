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
// stamp is not after its user's revocation is dead. Each logged-in request
// then costs one read of that store; anonymous requests none.
//
// A revocation is a write that ends sessions, so it takes the durable path
// of the store's other such writes (endingCreator), and fails closed. It is
// kept for as long as a cookie it revokes can live (revocationLifetime),
// remembered logins included, and its time is compared with the login
// stamps at one resolution, rounding towards revoking (revokedBy).

// WithRevocations returns a CookieStore that keeps a revocation list in st
// (a memory, Redis or SQL store; one shared by every instance), so that
// [Manager.RevokeUser] and [Session.RevokeOthers] work: every session of
// the user sealed before the revocation is refused (a [EventRejected]
// event with reason "revoked") from its next request on. It costs one read
// of st per logged-in request, and st holds one small record per revoked
// user for the longest a session can live ([Config.AbsoluteTimeout], or
// [RememberConfig.AbsoluteTimeout] when longer, plus an hour), after which
// every session it revoked has expired anyway. A revocation is written as
// the store writes a logout: on a [RedisStore], with [WithDurability]'s
// wait for replicas, and [Manager.RevokeUser] fails when they do not
// acknowledge it. Times are compared to the millisecond, so st must keep
// them at least that precisely (every store of this module does); a login
// in the same millisecond as a revocation, before or after it, is revoked.
// [Manager.Sessions] and [Manager.Revoke] stay unsupported: the server
// still keeps no list of sessions. The instances' clocks must agree (NTP):
// a login stamped by a clock behind the revoking one's is refused until
// that clock passes the revocation. A [MemoryStore] as st runs on the
// Manager's [Config.Clock].
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
	return revokedBy(rec.Generation, at), nil
}

// revocationTick is the one resolution at which revocation times and login
// stamps compare: the coarsest a store of this module keeps times at (a
// RedisStore keeps milliseconds), so that what the store dropped cannot
// decide.
const revocationTick = int64(time.Millisecond)

// revokedBy reports whether a cookie whose login was stamped at stamp (Unix
// nanoseconds) is dead by a revocation at at. Rounding towards revoking: a
// stamp in the revocation's own tick is revoked, whether it fell before or
// after it, as the store may have kept the revocation's time truncated.
func revokedBy(stamp uint64, at time.Time) bool {
	return int64(stamp)/revocationTick <= at.UnixNano()/revocationTick
}

// stampAfter returns a login stamp that the revocation at at does not
// revoke: one in a later tick. It waits (at most a tick, in a rare
// operation) for the clock to get there rather than stamping ahead of it:
// a stamp ahead of the clock would escape a revocation landing before the
// clock reaches it. A clock that does not move (a test's) gets the next
// tick all the same.
func (c *cookieCarrier) stampAfter(at time.Time) uint64 {
	next := (at.UnixNano()/revocationTick + 1) * revocationTick
	for range 2 {
		wait := next - c.m.now().UnixNano()
		if wait <= 0 {
			break
		}
		time.Sleep(time.Duration(wait))
	}
	return uint64(max(next, c.m.now().UnixNano()))
}

// revocationMargin is added to how long a revocation is kept. A request
// that opened a cookie just before the revocation may re-seal it a moment
// after with a later creation time and its old stamp (a Login of the same
// user keeps it), and the instances' clocks differ a little: an hour
// covers both with room, for a record of a few bytes.
const revocationMargin = time.Hour

// revocationLifetime is how long a revocation is kept: as long as the
// longest session it can end. SetTimeouts caps a session's own limits at
// the Manager's; only a remembered login's are longer.
func (c *cookieCarrier) revocationLifetime() time.Duration {
	cfg := &c.m.cfg
	return max(cfg.AbsoluteTimeout, cfg.Remember.AbsoluteTimeout) + revocationMargin
}

// writeRevocation logs userID out everywhere: it records in the
// revocation list that the user's cookies stamped until now are dead, and
// returns that time.
func (c *cookieCarrier) writeRevocation(ctx context.Context, userID string) (time.Time, error) {
	m, rv := c.m, c.revocations
	if rv == nil {
		return time.Time{}, ErrNoIndex
	}
	now := m.now()
	// The time is AuthenticatedAt. CreatedAt is the record's own end: a
	// RevokeAll cutoff on a store the list shares with a server-mode
	// Manager ends records created before it, and a revocation read as
	// ended would read as "never revoked", bringing revoked cookies back;
	// no cutoff (at most now) can come before its end while it lives.
	until := now.Add(c.revocationLifetime())
	r := &Record{Meta: Meta{CreatedAt: until, LastSeen: now, AuthenticatedAt: now, Expires: until, Linger: m.cfg.RotationGrace}}
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
	s.rec.Generation = c.stampAfter(at) // sealed by sendToken
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

// createEnding writes r under key in st through st's durable path for the
// writes that end sessions, looking through wrappers (SealValues',
// otelsession's: r has no values for them to change), or with Create when
// st has none: its Create is as durable as its deletes (memory, SQL).
func createEnding(ctx context.Context, st Store, key string, r *Record) error {
	inner := st
	for range 8 {
		if d, ok := inner.(endingCreator); ok {
			return d.CreateEnding(ctx, key, r)
		}
		w, ok := inner.(interface{ Unwrap() Store })
		if !ok {
			break
		}
		inner = w.Unwrap()
	}
	return st.Create(ctx, key, r)
}
