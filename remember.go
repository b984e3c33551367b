package session

import (
	"net/http"
	"time"
)

// "Remember me", done safely: a remembered session gets longer limits of
// its own (not everyone's), a persistent cookie, and a fresh ID once per
// RenewEvery, while RequireRecentAuth keeps counting from the last password
// entry.

// LoginOption changes what [Session.Login] does ([Remember],
// [WithMethod]); [Session.Reauthenticate] takes WithMethod and ignores the
// others.
type LoginOption func(*loginOptions)

type loginOptions struct {
	remember bool
	methods  []string // WithMethod
	// imported: an adopted legacy session (Config.Import), authenticated
	// at authAt by the legacy system (zero: unknown), not now.
	imported bool
	authAt   time.Time
}

// Remember makes a login a remembered one ("remember me"): the session gets
// a persistent cookie and the limits of [Config.Remember] instead of the
// normal ones, shows as Remembered in [Manager.Sessions], and gets a new ID
// once per [RememberConfig.RenewEvery].
func Remember() LoginOption { return func(o *loginOptions) { o.remember = true } }

// rememberKey is the reserved session key holding when a remembered
// session's ID was last issued (unix seconds), for RenewEvery.
const rememberKey = "_remember"

// remember sets the limits of a remembered session in meta and d, and
// records in d that its ID is issued at now.
func (m *Manager) remember(meta *Meta, d *Delta, now time.Time) error {
	r := &m.cfg.Remember
	on := true
	meta.Persist, meta.IdleTimeout, meta.AbsoluteTimeout = true, r.IdleTimeout, r.AbsoluteTimeout
	meta.Linger = m.linger(meta)
	d.Persist = &on
	d.Timeouts = &Timeouts{Idle: r.IdleTimeout, Absolute: r.AbsoluteTimeout, Linger: meta.Linger}
	return m.stampIssued(d, now)
}

// stampIssued records in d that the session's ID is issued at now.
func (m *Manager) stampIssued(d *Delta, now time.Time) error {
	b, err := encode(m.cfg.Codec, rememberKey, now.Unix())
	if err != nil {
		return err
	}
	set := make(map[string][]byte, len(d.Set)+1)
	for k, v := range d.Set {
		set[k] = v // d.Set may be the pending changes: copy, not add to
	}
	set[rememberKey] = b
	d.Set = set
	return nil
}

// remembered reports whether meta is a remembered session: a persistent
// cookie with limits longer than the normal ones.
func (m *Manager) remembered(meta *Meta) bool {
	return meta.Persist && meta.UserID != "" &&
		(meta.AbsoluteTimeout > m.cfg.AbsoluteTimeout || meta.IdleTimeout > m.cfg.IdleTimeout)
}

// navigation reports whether r is a page navigation (a GET whose
// Sec-Fetch-Mode, when the browser sends one, is "navigate"): a renewal
// there leaves no concurrent request of the page with a retired ID. A GET
// asking for a protocol upgrade (a WebSocket opening of a client without
// Fetch Metadata) is none: its connection is hijacked, and the 101 the
// WebSocket library writes does not carry the renewal's Set-Cookie. Nor is
// a speculative load (Sec-Purpose: prefetch, prefetch;prerender): the
// browser may discard it, and the renewal waits for the navigation the user
// makes.
func navigation(r *http.Request) bool {
	mode := r.Header.Get("Sec-Fetch-Mode")
	return r.Method == http.MethodGet && (mode == "" || mode == "navigate") &&
		r.Header.Get("Upgrade") == "" && r.Header.Get("Sec-Purpose") == "" && r.Header.Get("Purpose") == ""
}

// periodicRenewalDue reports whether this request should give its
// remembered session a new ID: a page navigation, at least RenewEvery after
// the ID was issued (the login when the stamp is missing). The caller holds
// s.mu.
func (s *Session) periodicRenewalDue(now time.Time) bool {
	m := s.m
	if s.rec == nil || s.key == "" || !m.remembered(&s.rec.Meta) || !navigation(s.req) {
		return false
	}
	issued := s.rec.CreatedAt
	if b, ok := s.lookup(rememberKey); ok {
		var sec int64
		if m.cfg.Codec.Unmarshal(b, &sec) == nil {
			issued = time.Unix(sec, 0)
		}
	}
	return now.Sub(issued) >= m.cfg.Remember.RenewEvery
}
