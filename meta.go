package session

import (
	"fmt"
	"time"
)

// UserID returns the authenticated user, or "" for an anonymous session.
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	if s.rec == nil {
		return ""
	}
	return s.rec.UserID
}

// IsNew reports whether the session has not been stored yet.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	return s.rec == nil
}

// AuthenticatedAt returns the time of the last Login or Reauthenticate; zero
// for an anonymous session.
func (s *Session) AuthenticatedAt() time.Time { return s.meta().AuthenticatedAt }

func (s *Session) meta() Meta {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	if s.rec == nil {
		return Meta{}
	}
	return s.rec.Meta
}

// Handle returns the public handle of this session as listed by
// Manager.Sessions ("" if it is not stored). It is not a token.
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	if s.rec == nil {
		return ""
	}
	return s.key
}

// Err returns the error that prevented the session from loading, if any.
// The middleware already answers such requests with the error handler; Err
// lets a handler stop early.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.unlock()
	s.load()
	return s.err
}

// SetPersist chooses a persistent cookie ("remember me", Max-Age up to the
// session's next deadline) or a browser-session cookie for this session.
// Only this request writes the setting, so a concurrent request cannot put
// the old one back.
func (s *Session) SetPersist(persist bool) error {
	s.mu.Lock()
	defer s.unlock()
	if err := s.settable(); err != nil {
		return err
	}
	if s.rec.Persist != persist {
		s.rec.Persist = persist
		s.changes().Persist = &persist
		s.sendCookie = true
	}
	return nil
}

// SetTimeouts gives this session shorter limits than the Manager's (for an
// admin session, say). Zero keeps the Manager's; longer ones are capped at
// the Manager's. Only this request writes them, so a concurrent request
// cannot put the old ones back, and the throttled touch follows a shorter
// idle limit.
func (s *Session) SetTimeouts(idle, absolute time.Duration) error {
	if s.detached() {
		return s.err
	}
	if idle < 0 || absolute < 0 {
		return fmt.Errorf("session: negative timeout")
	}
	s.mu.Lock()
	defer s.unlock()
	if err := s.settable(); err != nil {
		return err
	}
	// Stored capped, so that the devices list, which applies each
	// session's own limits (header sessions may have longer ones), agrees.
	idle, absolute = min(idle, s.m.cfg.IdleTimeout), min(absolute, s.m.cfg.AbsoluteTimeout)
	s.rec.IdleTimeout, s.rec.AbsoluteTimeout = idle, absolute
	s.rec.Linger = s.m.linger(&s.rec.Meta)
	s.changes().Timeouts = &Timeouts{Idle: idle, Absolute: absolute, Linger: s.rec.Linger}
	return nil
}
