package session

import (
	"net/http"
	"strings"
	"time"

	"github.com/sessionkit/session/internal/sid"
)

// presented is what the transport found in a request.
type presented struct {
	token   string // the raw token (unsigned part); the raw value if refused
	present bool   // the request carried a value at all
	reason  string // "" when acceptable, else why it is refused
	resign  bool   // verified by an older signing key: re-issue it
	legacy  bool   // read under the legacy cookie name: move it (Session.renewAtCommit)
}

// keyOf is the store key of a token issued under the current cookie name
// (or token header). With the default name, whose legacy name is read too,
// the key is in a domain of its own: a token issued under __Host-Http-sid,
// which no script can set, names no record when a script plants it under
// __Host-sid, whose tokens keep the plain key of the earlier releases.
func (m *Manager) keyOf(token string) string { return sid.KeyIn(m.keyDomain, token) }

// key is the store key of the token p presents.
func (m *Manager) key(p presented) string {
	if p.legacy {
		return sid.Key(p.token)
	}
	return m.keyOf(p.token)
}

// readToken returns the session token the request presents, from the cookie
// or, when Config.TokenHeader is set, from that header. It never looks at the
// URL. Malformed, oversized, unsigned or forged values are refused here,
// before any store lookup.
func (m *Manager) readToken(r *http.Request) presented {
	var v string
	var ok bool
	if m.cfg.TokenHeader != "" {
		v, ok = sid.ReadHeader(r.Header, m.cfg.TokenHeader)
	} else {
		v, ok = sid.ReadCookie(r.Header, m.cfg.Cookie.Name, sid.MaxValue)
	}
	legacy := false
	if !ok && m.legacyCookie != "" {
		v, ok = sid.ReadCookie(r.Header, m.legacyCookie, sid.MaxValue)
		legacy = ok
	}
	if !ok {
		return presented{}
	}
	if m.signer != nil {
		tok, valid, primary := m.signer.Verify(v)
		if !valid {
			return presented{token: v, present: true, reason: "bad_signature"}
		}
		return presented{token: tok, present: true, resign: !primary && !legacy, legacy: legacy}
	}
	if !sid.Valid(v) {
		return presented{token: v, present: true, reason: "malformed"}
	}
	return presented{token: v, present: true, legacy: legacy}
}

// presentsLegacyCookie reports whether r carries the session cookie under
// its name in earlier releases (see CookieConfig.Name).
func (m *Manager) presentsLegacyCookie(r *http.Request) bool {
	if m.legacyCookie == "" {
		return false
	}
	for _, line := range r.Header["Cookie"] {
		// Most requests never carried the old name: a substring search
		// spares them a second parse of the Cookie header.
		if strings.Contains(line, m.legacyCookie) {
			_, ok := sid.ReadCookie(r.Header, m.legacyCookie, sid.MaxValue)
			return ok
		}
	}
	return false
}

// expireLegacy is the Set-Cookie header value that deletes the cookie name
// of an earlier release (the session's or the CSRF nonce's), with the
// attributes the current cookies are set with.
func (m *Manager) expireLegacy(name string) string {
	c := &m.cfg.Cookie
	ck := http.Cookie{Name: name, Path: "/", Secure: true, HttpOnly: true, SameSite: c.SameSite, Partitioned: c.Partitioned, MaxAge: -1}
	return ck.String()
}

// responseTokenHeader is the header carrying a new token to API clients in
// header-transport mode: the request header itself, or X-Auth-Token when the
// request uses Authorization.
func (m *Manager) responseTokenHeader() string {
	if http.CanonicalHeaderKey(m.cfg.TokenHeader) == "Authorization" {
		return "X-Auth-Token"
	}
	return m.cfg.TokenHeader
}

// writeToken hands the client its token: Set-Cookie of the cookie called
// name, or the response token header in header mode. maxAge > 0 makes the
// cookie persistent.
func (m *Manager) writeToken(h http.Header, name, token string, maxAge time.Duration) {
	if m.signer != nil {
		token = m.signer.Sign(token)
	}
	if m.cfg.TokenHeader != "" {
		h.Set(m.responseTokenHeader(), token)
		return
	}
	h.Add("Set-Cookie", m.cookieHeader(name, token, maxAge))
}

// expireToken tells the client to forget its token: an expired cookie (same
// name, path and domain, empty value, Max-Age=0), or an empty token header.
func (m *Manager) expireToken(h http.Header) {
	if m.cfg.TokenHeader != "" {
		h.Set(m.responseTokenHeader(), "")
		return
	}
	h.Add("Set-Cookie", m.cookieHeader(m.cfg.Cookie.Name, "", -1))
}

// cookieHeader builds the Set-Cookie header value of the session cookie
// called name carrying token. maxAge > 0 makes it persistent; maxAge < 0
// expires it (Max-Age=0, empty value).
func (m *Manager) cookieHeader(name, token string, maxAge time.Duration) string {
	c := &m.cfg.Cookie
	ck := http.Cookie{
		Name:        name,
		Value:       token,
		Path:        c.Path,
		Domain:      c.Domain,
		Secure:      !c.AllowInsecure,
		HttpOnly:    true,
		SameSite:    c.SameSite,
		Partitioned: c.Partitioned,
	}
	switch {
	case maxAge < 0:
		ck.Value = ""
		ck.MaxAge = -1 // serialised as Max-Age=0
	case maxAge > 0:
		secs := int(maxAge / time.Second)
		if secs < 1 {
			secs = 1
		}
		ck.MaxAge = secs
	}
	return ck.String()
}
