package session

import (
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"time"
)

// Cookie mode: the Manager's side of a CookieStore. The request path is the
// same as with a server store; only its two ends change. load opens the
// cookie instead of calling Store.Load (loadCookie), and the store door
// (storage.go) hands Create, Update, Delete and Rotate to the methods below,
// which touch no server and only arrange for the cookie to be re-sealed
// when the response headers go out (sendToken).

// cookieSealer returns the store as a cookieSealer, or nil when the
// Manager keeps its sessions on a server.
func (m *Manager) cookieSealer() cookieSealer {
	c, _ := m.store.(cookieSealer)
	return c
}

// checkCookieMode rejects settings a cookie store cannot honour. New calls
// it.
func (m *Manager) checkCookieMode() error {
	if m.cookieSealer() == nil {
		return nil
	}
	switch {
	case m.cfg.MaxSessionsPerUser > 0:
		return fmt.Errorf("%w: MaxSessionsPerUser needs a server-side store: a CookieStore cannot count a user's sessions", ErrInvalidConfig)
	case m.cfg.TokenHeader != "":
		return fmt.Errorf("%w: a CookieStore carries the session in the cookie: TokenHeader cannot be used with it", ErrInvalidConfig)
	}
	return nil
}

// EventRejected reason for a sealed cookie that does not open.
const reasonUnsealable = "unsealable"

// loadCookie opens the session cookie (see load). A cookie that does not
// open is rejected; one past a sealed deadline is expired. Neither counts
// toward the brute-force signal: a sealed cookie cannot be guessed, and a
// dropped key makes whole crowds of honest cookies unopenable. The caller
// holds s.mu.
func (s *Session) loadCookie(c cookieSealer) {
	m := s.m
	v, ok := readCookieLimit(s.req.Header, m.cfg.Cookie.Name, MaxCookieSize)
	if !ok {
		return
	}
	s.hadCookie = true
	token, rec, primary, err := c.openCookie(m.cfg.Cookie.Name, v)
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
	if rv := m.cookieRevocations(); rv != nil {
		revoked, err := s.cookieRevoked(s.req.Context(), rv, rec)
		if err != nil {
			s.err = err
			return
		}
		if revoked {
			s.reject(token, EndRevoked, false)
			return
		}
	}
	rec.Expires = m.expiry(&rec.Meta)
	s.token, s.key, s.rec = token, storeKey(token), rec
	s.sendCookie = !primary // re-seal under the first key
	if rec.UserID != "" && m.cfg.Binding != BindNone {
		s.checkBinding(s.req.Context())
	}
}

// cookieCreate is the door's Create in cookie mode: it only checks that
// the record fits. The caller holds s.mu.
func (s *Session) cookieCreate(op string, r *Record) error {
	if err := s.m.cookieFits(&r.Meta, maps.All(r.Values)); err != nil {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	return nil
}

// cookieUpdate is the door's Update in cookie mode: the record is re-sealed
// into the response's cookie, which must still be able to carry it. The
// caller holds s.mu.
func (s *Session) cookieUpdate(op string) error {
	if s.headersSent {
		return s.storeErr(op, fmt.Errorf("a cookie store cannot save changes made after the response headers went out: %w", ErrHeadersSent))
	}
	s.sendCookie = true
	return nil
}

// cookieRotate is the door's Rotate in cookie mode: the renewed record must
// fit. The caller holds s.mu.
func (s *Session) cookieRotate(rot *Rotation) error {
	var old *Record
	if rot.OldKey != "" {
		old = s.rec
	}
	r := rot.NewRecord(old)
	if err := s.m.cookieFits(&r.Meta, maps.All(r.Values)); err != nil {
		return fmt.Errorf("session: renew: %w", err)
	}
	return nil
}

// sendToken writes the Set-Cookie (or token header) carrying the session:
// its token, or in cookie mode its sealed record. The caller holds s.mu.
func (s *Session) sendToken(h http.Header, maxAge time.Duration) {
	m := s.m
	c := m.cookieSealer()
	if c == nil {
		m.writeToken(h, s.token, maxAge)
		return
	}
	stampLogin(&s.rec.Meta) // the login stamp a revocation list compares (cookierevoke.go)
	v := m.cookieHeader(c.sealCookie(m.cfg.Cookie.Name, s.token, s.rec), maxAge)
	if len(v) > MaxCookieSize {
		// The checks of Set and the door keep this from happening; if it
		// does, the browser keeps its previous cookie rather than none.
		m.logger.Error("session: sealed cookie over the size limit, not sent", slog.Int("bytes", len(v)))
		s.queue(Event{Kind: EventStoreError, Reason: "cookie_too_large"})
		return
	}
	h.Add("Set-Cookie", v)
}

// cookieNeedsSend is needsNewCookie in cookie mode: a change is only kept
// if its cookie reaches the browser, so any pending change, or a new ID,
// needs a Set-Cookie. A re-seal that changes nothing the client relies on
// (the throttled touch, a cookie opened under an older key) does not. The
// caller holds s.mu and has loaded s.
func (s *Session) cookieNeedsSend(c cookieSealer) bool {
	if s.pend != nil && !s.pend.Empty() {
		return true
	}
	if !s.sendCookie {
		return false
	}
	v, _ := readCookieLimit(s.req.Header, s.m.cfg.Cookie.Name, MaxCookieSize)
	token, _, _, err := c.openCookie(s.m.cfg.Cookie.Name, v)
	return err != nil || token != s.token
}

// cookieSetFits checks, in cookie mode, that the session can take key = b:
// the response's cookie must still fit, and must still be sendable. The
// caller holds s.mu and has loaded s.
func (s *Session) cookieSetFits(key string, b []byte) error {
	m := s.m
	if m.cookieSealer() == nil {
		return nil
	}
	if s.headersSent {
		return fmt.Errorf("session: set: a cookie store cannot save values once the response headers went out: %w", ErrHeadersSent)
	}
	meta := Meta{CreatedAt: m.now()} // as commit will create it
	meta.LastSeen = meta.CreatedAt
	meta.Linger = m.linger(&meta)
	if s.rec != nil {
		meta = s.rec.Meta
	}
	d := s.pend
	values := func(yield func(string, []byte) bool) {
		if s.rec != nil && (d == nil || !d.Clear) {
			for k, v := range s.rec.Values {
				if k == key || d != nil && (hasKey(d.Set, k) || slices.Contains(d.Delete, k)) {
					continue
				}
				if !yield(k, v) {
					return
				}
			}
		}
		if d != nil {
			for k, v := range d.Set {
				if k != key && !yield(k, v) {
					return
				}
			}
		}
		yield(key, b)
	}
	if err := m.cookieFits(&meta, values); err != nil {
		return fmt.Errorf("session: set %q: %w", key, err)
	}
	return nil
}

// csrfReserve is room kept for the CSRF secret the first commit of a
// session adds to it (csrf_stateless.go): a 32-byte secret, encoded.
const csrfReserve = 96

// cookieFits reports, as an error wrapping ErrTooLarge, whether a record
// with meta and values would seal into a Set-Cookie longer than
// MaxCookieSize (with the longest Max-Age the Manager can give it).
func (m *Manager) cookieFits(meta *Meta, values iter.Seq2[string, []byte]) error {
	stamped := *meta
	stampLogin(&stamped) // as sendToken will seal it
	meta = &stamped
	hasCSRF := false
	plain := cookieRecordLen(tokenLen, meta, func(yield func(string, []byte) bool) {
		values(func(k string, v []byte) bool {
			hasCSRF = hasCSRF || k == csrfSessionKey
			return yield(k, v)
		})
	})
	if !hasCSRF {
		plain += csrfReserve
	}
	n := len(m.cookieHeader("", m.cfg.AbsoluteTimeout)) + sealedCookieLen(plain)
	if n > MaxCookieSize {
		return fmt.Errorf("%w: the cookie would be %d bytes, over %d", ErrTooLarge, n, MaxCookieSize)
	}
	return nil
}

func hasKey(m map[string][]byte, k string) bool { _, ok := m[k]; return ok }
