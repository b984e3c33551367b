package session

import (
	"encoding/base64"
	"net/http"

	"github.com/sessionkit/session/internal/csrf"
	"github.com/sessionkit/session/internal/sid"
)

// Stateless CSRF tokens for visitors whose session is not stored (signed
// double submit). The visitor holds a random nonce in its own cookie; the
// secret their tokens mask is HMAC-SHA256(key, nonce) under a key of the
// Manager, so the server keeps nothing until the session is stored. The
// token format is the session-bound one (csrf.Mask), so a form does not care
// which kind it carries.
//
// Rules, each one a test in csrf_stateless_test.go:
//   - a request that presents a session cookie never uses the nonce cookie
//     (so a nonce planted next to a logged-in session is inert, and a page
//     rendered after a logout gets a fresh nonce);
//   - a stored session's tokens are checked against its own secret only;
//   - when an anonymous session is first stored, it adopts the secret of
//     the request's nonce, so forms rendered before keep working, and the
//     nonce cookie is expired along with the first session cookie;
//   - Login and Renew drop the session's secret (replace), so tokens from
//     before a login stop working.

// csrfSessionKey is the reserved session key holding the synchronizer token.
// Login and Renew drop it, so a new ID gets a new token.
const csrfSessionKey = "_csrf"

// requestNonce returns the nonce cookie of the request, or "" when it has
// none usable: absent, not a well-formed nonce, or sent by a request that
// presents a session cookie. The caller holds s.mu and has loaded s.
func (s *Session) requestNonce() string {
	if s.hadCookie {
		return ""
	}
	v, ok := sid.ReadCookie(s.req.Header, csrfCookieName(&s.m.cfg.Cookie), sid.MaxValue)
	if !ok && !s.m.cfg.Cookie.AllowInsecure {
		v, ok = sid.ReadCookie(s.req.Header, legacyCSRFCookie, sid.MaxValue) // a form rendered before the rename
	}
	if !ok || !sid.Valid(v) {
		return ""
	}
	return v
}

// issuedNonce returns the nonce issued earlier in this request, or "". The
// caller holds s.mu.
func (s *Session) issuedNonce() string {
	if s.csrfNonce == nil {
		return ""
	}
	return *s.csrfNonce
}

// anonCSRFSecret returns the stateless secret for a session that is not
// stored: that of the nonce issued earlier in this request, else of the
// request's nonce cookie, else of a new nonce whose cookie commit sends. It
// returns nil when a new nonce is needed but the headers are gone. The
// caller holds s.mu and has loaded s.
func (s *Session) anonCSRFSecret() []byte {
	nonce := s.issuedNonce()
	if nonce == "" {
		nonce = s.requestNonce()
	}
	if nonce == "" {
		if s.headersSent {
			return nil
		}
		nonce = sid.New()
		s.csrfNonce = &nonce
	}
	return csrf.NonceSecret(s.m.csrfKeys[0], nonce)
}

// seedCSRF is called by commit just before it creates the record of a
// session that was not stored: the session adopts the stateless secret of
// this request's nonce (issued now or sent in the cookie), so the tokens
// already handed out keep verifying against the stored session. The caller
// holds s.mu.
func (s *Session) seedCSRF() {
	if s.pend != nil {
		if _, ok := s.pend.Set[csrfSessionKey]; ok {
			return
		}
	}
	nonce := s.issuedNonce()
	if nonce == "" {
		nonce = s.requestNonce()
	}
	if nonce == "" {
		return
	}
	secret := csrf.NonceSecret(s.m.csrfKeys[0], nonce)
	b, err := encode(s.m.cfg.Codec, csrfSessionKey, base64.RawURLEncoding.EncodeToString(secret))
	if err != nil {
		return // the session simply starts without a secret
	}
	d := s.changes()
	if d.Set == nil {
		d.Set = make(map[string][]byte, 1)
	}
	d.Set[csrfSessionKey] = b
}

// commitCSRFCookie is called by commit as the response headers go out: it
// sends the cookie of a nonce issued in this request when the session is
// still not stored, and expires the request's nonce cookie when the
// session's cookie is being sent (the session now holds the secret). It
// reports whether it added a Set-Cookie. The caller holds s.mu.
func (s *Session) commitCSRFCookie(h http.Header) bool {
	nonce := s.issuedNonce()
	s.csrfNonce = nil
	switch {
	case s.key == "" && nonce != "":
		h.Add("Set-Cookie", s.m.csrfCookieHeader(nonce))
		return true
	case s.key != "" && s.sendCookie:
		sent := false
		if _, ok := sid.ReadCookie(s.req.Header, csrfCookieName(&s.m.cfg.Cookie), sid.MaxValue); ok {
			h.Add("Set-Cookie", s.m.csrfCookieHeader(""))
			sent = true
		}
		if _, ok := sid.ReadCookie(s.req.Header, legacyCSRFCookie, sid.MaxValue); ok && !s.m.cfg.Cookie.AllowInsecure {
			// The nonce of an earlier release (requestNonce reads it) goes
			// too, or a logout would bring its tokens back.
			h.Add("Set-Cookie", s.m.expireLegacy(legacyCSRFCookie))
			sent = true
		}
		return sent
	}
	return false
}

// csrfCookieHeader builds the Set-Cookie header of the nonce cookie: a
// browser-session cookie carrying nonce, or an expired one when nonce is "".
// Its attributes follow the session cookie's (Secure, SameSite, Partitioned),
// but it is always HttpOnly, host-only and Path=/.
func (m *Manager) csrfCookieHeader(nonce string) string {
	c := &m.cfg.Cookie
	ck := http.Cookie{
		Name:        csrfCookieName(c),
		Value:       nonce,
		Path:        "/",
		Secure:      !c.AllowInsecure,
		HttpOnly:    true,
		SameSite:    c.SameSite,
		Partitioned: c.Partitioned,
	}
	if nonce == "" {
		ck.MaxAge = -1 // serialised as Max-Age=0
	}
	return ck.String()
}
