package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session/internal/authmethod"
	"github.com/sessionkit/session/internal/clientstr"
	"github.com/sessionkit/session/internal/sid"
	"github.com/sessionkit/session/internal/storekit"
)

// Login authenticates the session as userID: it issues a new ID (the old one
// dies at once), binds the user, records the authentication time and the
// device (User-Agent, client IP), keeps the session's values and settings
// (a different user's are dropped), adds it to the user's index and applies
// Config.MaxSessionsPerUser, all in one atomic store step (see Rotator).
// Call it after checking the user's credentials, before writing the
// response.
//
// If the session was destroyed or revoked meanwhile (another tab logged
// out), Login returns an error wrapping ErrNotFound and the request goes on
// anonymous; call Login again to start a fresh session.
//
// With [Remember], the session is a remembered one (see [RememberConfig]).
func (s *Session) Login(ctx context.Context, userID string, opts ...LoginOption) error {
	if s.detached() {
		return s.err
	}
	if userID == "" {
		return ErrNoUser
	}
	var o loginOptions
	for _, opt := range opts {
		opt(&o)
	}
	s.mu.Lock()
	defer s.unlock()
	if err := s.ready(); err != nil {
		return err
	}
	return s.login(ctx, userID, o)
}

// login is Login once s is loaded and ready; the caller holds s.mu (it is
// also how an imported legacy session is adopted, see importLegacy).
func (s *Session) login(ctx context.Context, userID string, o loginOptions) error {
	m := s.m
	now := m.now()
	methods, err := authmethod.Add("", o.methods, now)
	if err != nil {
		return fmt.Errorf("session: login: %w: %w", ErrInvalidConfig, err)
	}
	meta := Meta{
		Methods:         methods,
		UserID:          userID,
		CreatedAt:       now,
		LastSeen:        now,
		AuthenticatedAt: now,
		UserAgent:       clientstr.Clean(s.req.UserAgent()),
		IP:              clientstr.Clean(m.clientIP(s.req)),
	}
	if o.imported { // nobody authenticated to us: not recent (RequireRecentAuth)
		meta.AuthenticatedAt = o.authAt
		if o.authAt.After(now) {
			meta.AuthenticatedAt = now
		}
	}
	d := s.pending()
	if s.rec != nil && s.rec.UserID != "" && s.rec.UserID != userID {
		// Another user's session: neither their values nor their
		// settings ("remember me", own timeouts) carry over.
		off := false
		d = Delta{Clear: true, Persist: &off, Timeouts: &Timeouts{}}
	} else if s.rec != nil {
		meta.IdleTimeout, meta.AbsoluteTimeout, meta.Persist = s.rec.IdleTimeout, s.rec.AbsoluteTimeout, s.rec.Persist
	}
	meta.Linger = m.linger(&meta)
	if d.Timeouts != nil {
		t := *d.Timeouts // the pending Timeouts stay this request's
		t.Linger = meta.Linger
		d.Timeouts = &t
	}
	if o.remember {
		if err := m.remember(&meta, &d, now); err != nil {
			return err
		}
	}
	if err := s.rotate(ctx, &Rotation{Meta: meta, Delta: d}); err != nil {
		if errors.Is(err, ErrTooManySessions) {
			s.queue(s.event(EventLoginRefused, "", userID, "max_sessions"))
		}
		return err
	}
	s.queue(s.event(EventLogin, s.token, userID, ""))
	return nil
}

// Renew issues a new ID for the session, keeping its user, values and
// settings, and kills the old ID at once. Call it on any privilege change.
// On a session that is not stored yet it does nothing (its ID will be fresh
// anyway). If the session was destroyed or revoked meanwhile (another tab
// logged out), Renew returns an error wrapping ErrNotFound and the session
// continues as a new anonymous one.
func (s *Session) Renew(ctx context.Context) error {
	return s.renew(ctx, false)
}

// Reauthenticate records that the user just proved their identity again
// (password re-entry before a sensitive action): it renews the ID, sets
// AuthenticatedAt to now and binds the session to the device and network of
// this request (see Config.Binding). The session must be logged in. With
// [WithMethod] it also records the methods just completed, keeping the
// others (see [RequireRecentAuth]); other options are ignored.
func (s *Session) Reauthenticate(ctx context.Context, opts ...LoginOption) error {
	var o loginOptions
	for _, opt := range opts {
		opt(&o)
	}
	return s.renew(ctx, true, o.methods...)
}

func (s *Session) renew(ctx context.Context, reauth bool, methods ...string) error {
	s.mu.Lock()
	defer s.unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if reauth && (s.rec == nil || s.rec.UserID == "") {
		return ErrNoUser
	}
	if s.rec == nil || s.key == "" {
		return nil
	}
	m := s.m
	meta := s.rec.Meta
	meta.LastSeen = m.now()
	reason := ""
	if reauth {
		var err error
		if meta.Methods, err = authmethod.Add(meta.Methods, methods, meta.LastSeen); err != nil {
			return fmt.Errorf("session: reauthenticate: %w: %w", ErrInvalidConfig, err)
		}
		meta.AuthenticatedAt = meta.LastSeen
		meta.UserAgent, meta.IP = clientstr.Clean(s.req.UserAgent()), clientstr.Clean(m.clientIP(s.req))
		reason = "reauthenticate"
	}
	if err := s.rotate(ctx, &Rotation{Meta: meta, Delta: s.pending()}); err != nil {
		return err
	}
	s.queue(s.event(EventRenewed, s.token, meta.UserID, reason))
	return nil
}

// Destroy ends the session: the server record is deleted, the cookie
// expired. Values set afterwards start a new anonymous session with a new ID.
//
// It fails closed: when the session could not be loaded (the store failed),
// it deletes the record named by the request's cookie anyway, and when a
// delete fails it returns the error and the response becomes the error
// handler's, never a success while the record still lives. A logout racing
// a renewal of the same session in another tab ends the renewed one too. On
// a request whose ID another request renewed a moment ago (see
// Config.RotationGrace) it returns an error wrapping ErrRotated and leaves
// the browser's cookie alone.
func (s *Session) Destroy(ctx context.Context) error {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	if s.detached() {
		return s.err
	}
	if s.headersSent {
		return ErrHeadersSent
	}
	if s.renewedElsewhere() {
		// The cookie names an ID another request just renewed: expiring it
		// would drop the renewed cookie from the browser, and this request
		// cannot end the renewed session (it is never mapped to it).
		return fmt.Errorf("session: destroy: %w", ErrRotated)
	}
	key, presented := s.key, ""
	if p := s.m.readToken(s.req); key == "" && p.present && p.reason == "" {
		presented = p.token
		key = s.m.key(p) // not loaded: delete what the cookie names
	}
	if key != "" {
		// Another tab may have renewed the ID after this request loaded
		// it: the logout ends the session's family, whatever ID it has now.
		var meta *Meta
		user := ""
		if s.rec != nil {
			meta, user = &s.rec.Meta, s.rec.UserID
		}
		if err := s.storeEnd(ctx, "destroy", key, meta); err != nil {
			s.err = err
			return err
		}
		token := s.token
		if token == "" {
			token = presented
		}
		s.queue(s.event(EventDestroyed, token, user, ""))
	}
	s.reset()
	s.err = nil
	s.expireCookie = s.hadCookie || s.sendCookie || s.expireCookie
	s.sendCookie = false
	return nil
}

// rotate moves the session to a new ID in one store step (see Rotation;
// the caller fills Meta, Delta and the revocation flag) and arranges for
// the new cookie. The caller holds s.mu. When the old record is gone, the
// session continues as a new anonymous one and the cookie is expired (but
// for one renewed a moment ago, see renewedMeanwhile).
func (s *Session) rotate(ctx context.Context, rot *Rotation) error {
	rot.Delta.Delete = append(rot.Delta.Delete[:len(rot.Delta.Delete):len(rot.Delta.Delete)], csrfSessionKey) // a new ID gets a new CSRF token
	return s.rotateKeepingCSRF(ctx, rot)
}

// rotateKeepingCSRF is rotate keeping the session's CSRF secret: for a
// renewal at commit (renewAtCommit), whose page rendered its forms with it.
func (s *Session) rotateKeepingCSRF(ctx context.Context, rot *Rotation) error {
	m := s.m
	token := sid.New()
	rot.OldKey, rot.NewKey = s.key, m.keyOf(token)
	rot.Meta.Expires = m.expiry(&rot.Meta)
	var old *Record
	if s.key != "" {
		old = s.rec
	}
	rot.Meta.Family = "" // a new family: the new key's
	if old != nil && old.UserID == rot.Meta.UserID {
		rot.Meta.Family = storekit.FamilyOf(s.key, &old.Meta) // a renewal of the same session
	} else if rot.Meta.UserID != "" {
		// Only a session new to the user counts against the cap: a
		// renewal (Renew, the move off the legacy cookie name, a
		// remembered session's periodic one) adds none, so it neither
		// evicts the user's other sessions nor is refused.
		rot.MaxSessions, rot.RefuseNew = m.cfg.MaxSessionsPerUser, m.cfg.RefuseOverLimit
	}
	evicted, err := s.storeRotate(ctx, rot)
	switch {
	case err == nil:
	case errors.Is(err, ErrTooManySessions):
		return ErrTooManySessions
	case errors.Is(err, ErrNotFound):
		// Renewed by another request a moment ago, the browser may hold
		// the new ID already (the grace rule): its cookies stay, and this
		// request is one carrying a renewed ID (Set and Destroy answer
		// ErrRotated rather than start a session over the renewed one).
		renewed := s.key != "" && s.renewedMeanwhile(ctx)
		s.reset()
		s.expireCookie, s.sendCookie = !renewed, false
		if renewed {
			s.sawRenewal()
		}
		return fmt.Errorf("session: renew: %w", err)
	default:
		return err
	}
	for _, v := range evicted {
		s.queue(Event{Kind: EventEvicted, UserID: rot.Meta.UserID, Session: handleRef(v.Key), IP: v.Meta.IP, UserAgent: v.Meta.UserAgent, Reason: "max_sessions"})
	}
	s.token, s.key, s.rec = token, rot.NewKey, rot.NewRecord(old)
	s.legacyMove = false // the new key is in the current name's domain
	s.clearPending()
	s.sendCookie, s.expireCookie = true, false
	return nil
}

// renewAtCommit gives the session a new ID as the response goes out,
// carrying this request's changes: the periodic renewal of a remembered
// session, or the move of one read under the legacy cookie name (its key is
// in the earlier releases' domain: see Manager.keyOf), both on a page
// navigation only. The caller holds
// s.mu. When another request renewed or ended it first, this request goes
// on anonymous without touching the browser's cookies (the grace rule: they
// may already hold the newer ID, the legacy one set by an earlier release).
func (s *Session) renewAtCommit(ctx context.Context, now time.Time) error {
	meta := s.rec.Meta
	meta.LastSeen = now
	d := s.pending()
	reason := "remember"
	if s.legacyMove {
		reason = "cookie_name"
	}
	if s.m.remembered(&meta) {
		if err := s.m.stampIssued(&d, now); err != nil {
			return err
		}
	}
	// The response's page rendered its forms with the session's CSRF
	// token before this renewal of the same session: it keeps its secret.
	err := s.rotateKeepingCSRF(ctx, &Rotation{Meta: meta, Delta: d})
	if errors.Is(err, ErrNotFound) {
		s.expireCookie = false
		s.reissueGone = true // the legacy cookie stays (responseWriter.commit)
		return nil
	}
	if err != nil {
		return err
	}
	s.queue(s.event(EventRenewed, s.token, meta.UserID, reason))
	return nil
}

// renewedMeanwhile reports whether the session's record, found gone (at
// commit, by a renewal), was renewed by another request within
// Config.RotationGrace (its store kept a rotated Tombstone). One more store
// read, on this rare path only; a failure to read counts as not renewed.
// The caller holds s.mu.
func (s *Session) renewedMeanwhile(ctx context.Context) bool {
	_, err := s.storeLoad(ctx, s.key)
	return s.m.renewedRecently(err)
}

// sawRenewal records that another request renewed the session since this
// one loaded it: the browser may hold the new ID already, so its cookies
// stay (the legacy one too: responseWriter.commit), and a later Set or
// Destroy answers ErrRotated rather than start a session over the renewed
// one. The caller holds s.mu.
func (s *Session) sawRenewal() { s.reissueGone, s.graced = true, true }

// renewedRecently reports whether err, a Load's, is the Tombstone of an ID
// renewed within Config.RotationGrace.
func (m *Manager) renewedRecently(err error) bool {
	var t *Tombstone
	return errors.As(err, &t) && t.Reason == EndRotated && m.now().Sub(t.At) < m.cfg.RotationGrace
}
