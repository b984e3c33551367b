package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// "Remember me", done safely: a remembered session gets longer limits of
// its own (not everyone's), a persistent cookie, and a fresh ID once per
// RenewEvery, while RequireRecentAuth keeps counting from the last password
// entry.

// Defaults of [RememberConfig].
const (
	defaultRememberIdle     = 7 * 24 * time.Hour
	defaultRememberAbsolute = 30 * 24 * time.Hour
	defaultRememberRenew    = 24 * time.Hour
)

// RememberConfig is the policy of remembered sessions, chosen per login with
// [Remember]. The zero value: 7 days idle, 30 days absolute, a new ID every
// day. Its limits may not be shorter than the Manager's normal ones.
type RememberConfig struct {
	// IdleTimeout ends a remembered session not used for this long.
	// Default 7 days.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a remembered session this long after the login,
	// however active. Default 30 days.
	AbsoluteTimeout time.Duration
	// RenewEvery gives a remembered session a new ID on the first page
	// navigation (a GET the browser marks Sec-Fetch-Mode: navigate, or one
	// without Fetch Metadata) after each period since the login, so a
	// cookie copied once does not work for a month. Default 1 day; at most
	// IdleTimeout.
	RenewEvery time.Duration
}

// validate fills the defaults and checks the policy against the Manager's
// normal limits.
func (r *RememberConfig) validate(idle, abs time.Duration) error {
	if r.IdleTimeout == 0 {
		r.IdleTimeout = max(defaultRememberIdle, idle)
	}
	if r.AbsoluteTimeout == 0 {
		r.AbsoluteTimeout = max(defaultRememberAbsolute, abs)
	}
	if r.RenewEvery == 0 {
		r.RenewEvery = min(defaultRememberRenew, r.IdleTimeout)
	}
	switch {
	case r.IdleTimeout < idle || r.AbsoluteTimeout < abs:
		return fmt.Errorf("%w: Remember limits (%v idle, %v absolute) shorter than the normal ones (%v, %v)",
			ErrInvalidConfig, r.IdleTimeout, r.AbsoluteTimeout, idle, abs)
	case r.AbsoluteTimeout < r.IdleTimeout:
		return fmt.Errorf("%w: Remember absolute timeout %v shorter than its idle timeout %v", ErrInvalidConfig, r.AbsoluteTimeout, r.IdleTimeout)
	case r.RenewEvery < 0 || r.RenewEvery > r.IdleTimeout:
		return fmt.Errorf("%w: Remember.RenewEvery %v must be positive and at most its idle timeout %v", ErrInvalidConfig, r.RenewEvery, r.IdleTimeout)
	}
	return nil
}

// LoginOption changes what [Session.Login] does.
type LoginOption func(*loginOptions)

type loginOptions struct{ remember bool }

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

// periodicRenewalDue reports whether this request should give its
// remembered session a new ID: a page navigation, at least RenewEvery after
// the ID was issued (the login when the stamp is missing). The caller holds
// s.mu.
func (s *Session) periodicRenewalDue(now time.Time) bool {
	m := s.m
	if s.rec == nil || s.key == "" || !m.remembered(&s.rec.Meta) || s.req.Method != http.MethodGet {
		return false
	}
	if mode := s.req.Header.Get("Sec-Fetch-Mode"); mode != "" && mode != "navigate" {
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

// renewRemembered gives the remembered session a new ID, carrying this
// request's changes. The caller holds s.mu. When another request renewed
// it first, this request goes on anonymous without touching the browser's
// cookie (the grace rule: it may already hold the newer ID).
func (s *Session) renewRemembered(ctx context.Context, now time.Time) error {
	meta := s.rec.Meta
	meta.LastSeen = now
	d := s.pending()
	if err := s.m.stampIssued(&d, now); err != nil {
		return err
	}
	err := s.rotate(ctx, &Rotation{Meta: meta, Delta: d})
	if errors.Is(err, ErrNotFound) {
		s.expireCookie = false
		return nil
	}
	if err != nil {
		return err
	}
	s.queue(s.event(EventRenewed, s.token, meta.UserID, "remember"))
	return nil
}
