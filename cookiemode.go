package session

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net/http"
	"time"

	"github.com/sessionkit/session/internal/cookieseal"
	"github.com/sessionkit/session/internal/sid"
	"github.com/sessionkit/session/internal/storekit"
)

// Cookie mode: the Manager's side of a CookieStore, the carrier (see
// carrier.go) of sessions whose record travels sealed in the cookie. The
// request path is the same as with a server store; only its two ends
// change. load opens the cookie instead of calling Store.Load, and the
// store door (storage.go) hands Create, Update, Delete and Rotate to the
// methods below, which touch no server and only arrange for the cookie to
// be re-sealed when the response headers go out (sendToken). The devices
// features (the revocation list) are at the end of this file.

// cookieCarrier carries sessions sealed in the cookie.
type cookieCarrier struct {
	m      *Manager
	sealer cookieSealer
	// revocations is the revocation list (below); nil: none.
	revocations Store
}

// newCookieCarrier returns the carrier of m when its store is a
// CookieStore, or nil. It rejects settings a cookie store cannot honour.
func newCookieCarrier(m *Manager) (*cookieCarrier, error) {
	sealer, ok := m.store.(cookieSealer)
	if !ok {
		return nil, nil
	}
	switch {
	case m.cfg.MaxSessionsPerUser > 0:
		return nil, fmt.Errorf("%w: MaxSessionsPerUser needs a server-side store: a CookieStore cannot count a user's sessions", ErrInvalidConfig)
	case m.cfg.TokenHeader != "":
		return nil, fmt.Errorf("%w: a CookieStore carries the session in the cookie: TokenHeader cannot be used with it", ErrInvalidConfig)
	}
	rv := sealer.revocationList()
	shareClock(rv, m.cfg.Clock) // one clock for the Manager and its stores
	return &cookieCarrier{m: m, sealer: sealer, revocations: rv}, nil
}

// EventRejected reason for a sealed cookie that does not open.
const reasonUnsealable = "unsealable"

// load opens the session cookie (see Session.load). A cookie that does not
// open is rejected; one past a sealed deadline is expired. Neither counts
// toward the brute-force signal: a sealed cookie cannot be guessed, and a
// dropped key makes whole crowds of honest cookies unopenable. The caller
// holds s.mu.
func (c *cookieCarrier) load(s *Session) {
	m := c.m
	name := m.cfg.Cookie.Name
	v, ok := sid.ReadCookie(s.req.Header, name, maxCookieSize)
	if !ok && m.legacyCookie != "" {
		// The cookie of an earlier release: sealed for its own name.
		name = m.legacyCookie
		v, ok = sid.ReadCookie(s.req.Header, name, maxCookieSize)
	}
	if !ok {
		return
	}
	s.hadCookie = true
	token, rec, primary, err := c.sealer.openCookie(name, v)
	if err != nil {
		s.reject(v, reasonUnsealable, false)
		return
	}
	now := m.now()
	if kind := m.expiredReason(&rec.Meta, now); kind != "" {
		s.queue(s.event(kind, token, rec.UserID, ""))
		s.expireCookie = true
		return
	}
	revoked, err := c.revoked(s.req.Context(), s, rec)
	if err != nil {
		s.err = err
		return
	}
	if revoked {
		s.reject(token, EndRevoked, false)
		return
	}
	rec.Expires = m.expiry(&rec.Meta)
	s.token, s.key, s.rec = token, s.m.keyOf(token), rec
	s.sendCookie = !primary || name != m.cfg.Cookie.Name // re-seal under the first key and the current name
	if rec.UserID != "" && m.cfg.Binding != BindNone {
		s.checkBinding(s.req.Context())
	}
}

// create is the door's Create in cookie mode: it only checks that the
// record fits. The caller holds s.mu.
func (c *cookieCarrier) create(_ context.Context, _ *Session, op, _ string, r *Record) error {
	if err := c.fits(&r.Meta, maps.All(r.Values)); err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	return nil
}

// update is the door's Update in cookie mode: the record is re-sealed into
// the response's cookie, which must still be able to carry it. The caller
// holds s.mu.
func (*cookieCarrier) update(_ context.Context, s *Session, op, _ string, _ *Delta) error {
	if s.headersSent {
		return s.storeErr(op, fmt.Errorf("a cookie store cannot save changes made after the response headers went out: %w", ErrHeadersSent))
	}
	s.sendCookie = true
	return nil
}

// delete is the door's Delete in cookie mode: nothing on the server to
// end; the caller expires the cookie.
func (*cookieCarrier) delete(context.Context, *Session, string, string) error { return nil }

// end is the door's end of a session's family in cookie mode: a sealed
// cookie has no family on the server; the caller expires the cookie.
func (*cookieCarrier) end(context.Context, *Session, string, string, *Meta) error { return nil }

// rotate is the door's Rotate in cookie mode: the renewed record must fit.
// The caller holds s.mu.
func (c *cookieCarrier) rotate(_ context.Context, s *Session, rot *Rotation) ([]IndexedRecord, error) {
	var old *Record
	if rot.OldKey != "" {
		old = s.rec
	}
	r := rot.NewRecord(old)
	if err := c.fits(&r.Meta, maps.All(r.Values)); err != nil {
		return nil, fmt.Errorf("session: renew: %w", err)
	}
	return nil, nil
}

// sendToken writes the Set-Cookie carrying the sealed record. The caller
// holds s.mu.
func (c *cookieCarrier) sendToken(s *Session, h http.Header, maxAge time.Duration) {
	m := c.m
	cookieseal.StampLogin(&s.rec.Meta) // the login stamp a revocation list compares (below)
	v := m.cookieHeader(m.cfg.Cookie.Name, c.sealer.sealCookie(m.cfg.Cookie.Name, s.token, s.rec), maxAge)
	if len(v) > maxCookieSize {
		// The checks of Set and the door keep this from happening; if it
		// does, the browser keeps its previous cookie rather than none.
		m.logger.Error("session: sealed cookie over the size limit, not sent", slog.Int("bytes", len(v)))
		s.queue(Event{Kind: EventStoreError, Reason: "cookie_too_large"})
		return
	}
	h.Add("Set-Cookie", v)
}

// needsSend is needsNewCookie in cookie mode: a change is only kept if its
// cookie reaches the browser, so any pending change, or a new ID, needs a
// Set-Cookie. A re-seal that changes nothing the client relies on (the
// throttled touch, a cookie opened under an older key) does not. The
// caller holds s.mu and has loaded s.
func (c *cookieCarrier) needsSend(s *Session) bool {
	if s.pend != nil && !s.pend.Empty() {
		return true
	}
	if !s.sendCookie {
		return false
	}
	v, _ := sid.ReadCookie(s.req.Header, s.m.cfg.Cookie.Name, maxCookieSize)
	token, _, _, err := c.sealer.openCookie(s.m.cfg.Cookie.Name, v)
	return err != nil || token != s.token
}

// check is Session.Check in cookie mode: the record is the one sealed in
// the request's cookie, so only its deadlines and, with a revocation list,
// the user's revocations can end it; no touch (a new cookie could not reach
// the browser of a long-lived connection). The caller holds s.mu.
func (c *cookieCarrier) check(ctx context.Context, s *Session) error {
	m := c.m
	if kind := m.expiredReason(&s.rec.Meta, m.now()); kind != "" {
		s.queue(s.event(kind, s.token, s.rec.UserID, ""))
		s.reset()
		return fmt.Errorf("%s: %s: %w", errEnded, kind, ErrNotFound)
	}
	revoked, err := c.revoked(ctx, s, s.rec)
	if err != nil {
		return err
	}
	if revoked {
		s.reset()
		return fmt.Errorf("%s: %s: %w", errEnded, EndRevoked, ErrNotFound)
	}
	return nil
}

// setFits checks, in cookie mode, that the session can take key = b: the
// response's cookie must still fit, and must still be sendable. The caller
// holds s.mu and has loaded s.
func (c *cookieCarrier) setFits(s *Session, key string, b []byte) error {
	m := c.m
	if s.headersSent {
		return fmt.Errorf("session: set: a cookie store cannot save values once the response headers went out: %w", ErrHeadersSent)
	}
	meta := Meta{CreatedAt: m.now()} // as commit will create it
	meta.LastSeen = meta.CreatedAt
	meta.Linger = m.linger(&meta)
	if s.rec != nil {
		meta = s.rec.Meta
	}
	if err := c.fits(&meta, storekit.AfterSet(s.rec, s.pend, key, b)); err != nil {
		return fmt.Errorf("session: set %q: %w", key, err)
	}
	return nil
}

// csrfReserve is room kept for the CSRF secret the first commit of a
// session adds to it (csrf_stateless.go): a 32-byte secret, encoded.
const csrfReserve = 96

// fits reports, as an error wrapping ErrTooLarge, whether a record with
// meta and values would seal into a Set-Cookie longer than maxCookieSize
// (with the longest Max-Age its cookie can be sent with).
func (c *cookieCarrier) fits(meta *Meta, values iter.Seq2[string, []byte]) error {
	n := len(c.m.cookieHeader(c.m.cfg.Cookie.Name, "", c.longestMaxAge(meta))) + cookieseal.ValueLen(meta, values, csrfSessionKey, csrfReserve)
	if n > maxCookieSize {
		return fmt.Errorf("%w: the cookie would be %d bytes, over %d", ErrTooLarge, n, maxCookieSize)
	}
	return nil
}

// longestMaxAge is the longest Max-Age the cookie of a session with meta
// can be sent with (commitHeaders: until its next deadline, so at most its
// longer limit): a remembered session's runs for days where a normal one's
// runs for hours. Its limits are taken as a persistent session's, so that
// a SetPersist after the values were set cannot push the cookie over.
func (c *cookieCarrier) longestMaxAge(meta *Meta) time.Duration {
	p := *meta
	p.Persist = true
	idle, abs := c.m.limits(&p)
	return max(idle, abs)
}

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
// stamps at one resolution, rounding towards revoking (cookieseal.RevokedBy).

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
	return &CookieStore{sealer: c.sealer, revocations: st}
}

// revoked reports whether rec was sealed before its user was logged out
// everywhere; never without a revocation list. The caller holds s.mu.
func (c *cookieCarrier) revoked(ctx context.Context, s *Session, rec *Record) (bool, error) {
	if c.revocations == nil || rec.UserID == "" {
		return false, nil
	}
	at, err := s.revocationLoad(ctx, c.revocations, cookieseal.RevocationKey(rec.UserID))
	if err != nil || at.IsZero() {
		return false, err
	}
	return cookieseal.RevokedBy(rec.Generation, at), nil
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
	if err := m.revocationSet(ctx, rv, cookieseal.RevocationKey(userID), r); err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// revokeUser is Manager.RevokeUser in cookie mode.
func (c *cookieCarrier) revokeUser(ctx context.Context, userID string) error {
	if _, err := c.writeRevocation(ctx, userID); err != nil {
		return err
	}
	c.m.emit(ctx, c.m.actor(ctx, Event{Kind: EventRevoked, UserID: userID, Reason: "revoke_user"}))
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
	if err := s.readyUser(); err != nil {
		return err
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
	s.rec.Generation = cookieseal.StampAfter(at, c.m.now) // sealed by sendToken
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
	if d, ok := findStore[endingCreator](st); ok {
		return d.CreateEnding(ctx, key, r)
	}
	return st.Create(ctx, key, r)
}
