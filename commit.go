package session

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/sessionkit/session/internal/sid"
	"github.com/sessionkit/session/internal/storekit"
)

// commit sends this request's changes to the store and, when h is non-nil,
// writes the cookie and cache headers into h. It is called by the middleware
// just before the response headers go out (withHeaders true) and again when
// the handler returns after the headers went out (h nil, withHeaders false),
// for values set while streaming.
//
// What it sends:
//   - nothing for a session the handler never touched, or an anonymous one
//     that holds no value (no record, no cookie);
//   - Create for a new session that got values (a fresh ID and cookie);
//   - Update with only this request's changes, plus the metadata when the
//     throttled touch is due or a per-session setting changed;
//   - nothing for a read-only request whose touch is not due.
//
// An Update that finds the record gone (destroyed or revoked by another
// request meanwhile) ends the request as anonymous: the session is not
// recreated and the cookie is expired.
func (s *Session) commit(h http.Header, withHeaders bool) error {
	return s.commitCtx(s.req.Context(), h, withHeaders, "")
}

// commitCtx is commit under ctx. A non-empty phase ("save", "final_commit")
// names the store failure in its error and event instead of the store
// operation.
func (s *Session) commitCtx(ctx context.Context, h http.Header, withHeaders bool, phase string) error {
	s.mu.Lock()
	defer s.unlock()
	if !s.loaded {
		if withHeaders {
			// Changes that need a Set-Cookie must now fail, not vanish.
			s.headersSent = true
		}
		return nil
	}
	if s.err != nil {
		return s.err
	}
	now := s.m.now()
	if withHeaders && ((s.legacyMove && navigation(s.req)) || s.periodicRenewalDue(now)) {
		if err := s.renewAtCommit(ctx, now); err != nil {
			return err
		}
	}
	if err := s.commitStore(ctx, now, phase); err != nil {
		return err
	}
	if withHeaders {
		s.commitHeaders(h, now)
	}
	return nil
}

// commitStore sends this request's changes to the store (see commit): a
// session not stored yet is created if it holds something, a stored one
// gets its changes and due touch. The caller holds s.mu.
func (s *Session) commitStore(ctx context.Context, now time.Time, phase string) error {
	switch {
	case s.key == "":
		if !s.wantsCreate() || s.headersSent { // (headers sent: Set already refused it)
			return nil
		}
		return s.commitCreate(ctx, now, phase)
	case s.rec != nil:
		return s.commitUpdate(ctx, now, phase)
	}
	return nil
}

// commitCreate stores a session that holds something for the first time,
// under a new ID. The caller holds s.mu.
func (s *Session) commitCreate(ctx context.Context, now time.Time, phase string) error {
	m := s.m
	s.seedCSRF() // adopt the stateless CSRF secret (csrf_stateless.go)
	r := &Record{}
	if s.rec != nil {
		r.Meta = s.rec.Meta
	} else {
		r.CreatedAt, r.LastSeen = now, now
		r.Linger = m.linger(&r.Meta)
	}
	d := s.pending()
	storekit.Merge(&d, r, false) // the pending changes are dropped once stored
	r.Expires = m.expiry(&r.Meta)
	token := sid.New()
	key := m.keyOf(token)
	if err := s.storeCreate(ctx, commitOp(phase, "create"), key, r); err != nil {
		return err
	}
	s.token, s.key, s.rec = token, key, r
	s.clearPending()
	s.sendCookie, s.expireCookie = true, false
	s.queue(s.event(EventCreated, token, "", ""))
	return nil
}

// commitUpdate sends only what this request changed: the touch moves
// LastSeen and Expires, a setting goes only with the request that changed
// it. A read-only request whose touch is not due sends nothing (and
// allocates no Delta). The caller holds s.mu.
func (s *Session) commitUpdate(ctx context.Context, now time.Time, phase string) error {
	m := s.m
	touch := now.Sub(s.rec.LastSeen) >= m.touchInterval(&s.rec.Meta)
	if !touch && (s.pend == nil || s.pend.Empty()) {
		return nil
	}
	d := s.changes()
	if touch || d.Persist != nil || d.Timeouts != nil {
		meta := s.rec.Meta
		if touch {
			meta.LastSeen = now
			d.LastSeen = now
		}
		d.Expires = m.expiry(&meta)
	}
	if d.Empty() {
		return nil
	}
	err := s.storeUpdate(ctx, commitOp(phase, "update"), s.key, d)
	if errors.Is(err, ErrNotFound) {
		s.goneAtCommit(ctx)
		return nil
	}
	if err != nil {
		return err
	}
	storekit.Merge(d, s.rec, false) // d is dropped next: its values move over
	s.clearPending()
	s.reissue = false // the record was live just now
	if !d.Expires.IsZero() && s.persistent() {
		s.sendCookie = true // refresh Max-Age with the idle deadline
	}
	return nil
}

// goneAtCommit handles a record destroyed, revoked or renewed while this
// request ran: never resurrect it, never write into the renewed one. The
// caller holds s.mu.
func (s *Session) goneAtCommit(ctx context.Context) {
	renewed := s.renewedMeanwhile(ctx)
	reason := "gone_at_commit"
	if renewed {
		reason = "renewed_at_commit"
	}
	s.queue(s.event(EventRejected, s.token, s.rec.UserID, reason))
	s.reset()
	// A renewal's cookie may already be in the browser: expiring the cookie
	// would log every tab out (the grace rule), and so would deleting the
	// legacy one, which an instance of the earlier release renews.
	s.expireCookie, s.sendCookie = !renewed, false
	if renewed {
		s.sawRenewal()
	}
}

// commitHeaders writes the cookie and cache headers into h as the response
// headers go out. The caller holds s.mu.
func (s *Session) commitHeaders(h http.Header, now time.Time) {
	m := s.m
	s.headersSent = true
	setCookie := false
	switch {
	case s.sendCookie && s.token != "":
		maxAge := time.Duration(0)
		if s.persistent() {
			maxAge = s.rec.Expires.Sub(now)
		}
		m.carrier.sendToken(s, h, maxAge) // the token, or the sealed record
		setCookie = true
	case s.expireCookie:
		m.expireToken(h)
		setCookie = true
	}
	if s.commitCSRFCookie(h) { // the stateless CSRF nonce (csrf_stateless.go)
		setCookie = true
	}
	if s.commitLegacyCookie(h) { // Config.Import (import.go)
		setCookie = true
	}
	s.sendCookie, s.expireCookie = false, false
	// The response depends on the token: shared caches must not mix users.
	vary := "Cookie"
	if m.cfg.TokenHeader != "" {
		vary = m.cfg.TokenHeader
	}
	authenticated := s.rec != nil && s.rec.UserID != ""
	noStore := setCookie || (authenticated && h.Get("Cache-Control") == "")
	if noStore && len(h["Vary"]) == 0 {
		// Both values from one allocation (the capacities keep an append
		// to one from writing into the other).
		v := []string{vary, "no-store"}
		h["Vary"], h["Cache-Control"] = v[0:1:1], v[1:2:2]
		return
	}
	h.Add("Vary", vary)
	if noStore {
		h.Set("Cache-Control", "no-store")
	}
}

// persistent reports whether the session's cookie carries a Max-Age.
func (s *Session) persistent() bool {
	return s.m.cfg.Cookie.Persist || (s.rec != nil && s.rec.Persist)
}

// commitOp names a store failure during a commit: the phase when there is
// one, the store operation otherwise.
func commitOp(phase, op string) string {
	if phase != "" {
		return phase
	}
	return op
}
