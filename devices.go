package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/sessionkit/session/internal/authmethod"
	"github.com/sessionkit/session/internal/sid"
	"github.com/sessionkit/session/internal/storekit"
)

// SessionInfo describes one of a user's sessions, for a "your devices" page.
type SessionInfo struct {
	// Handle identifies the session for Revoke. It is derived from the
	// stored hash and cannot be used as a cookie.
	Handle          string
	CreatedAt       time.Time // the login
	LastSeen        time.Time // last recorded activity (throttled)
	AuthenticatedAt time.Time
	UserAgent       string
	IP              string
	// Current is true for the session of the request whose context was
	// passed to Sessions.
	Current bool
	// Remembered is true for a session logged in with [Remember].
	Remembered bool
	// Methods are the authentication methods recorded for the session
	// ([WithMethod]) and when each was last completed; nil if none.
	Methods map[string]time.Time
}

// Sessions lists the user's live sessions, most recently active first. When
// ctx is a request context under Handler, the caller's own session is marked
// Current.
func (m *Manager) Sessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	recs, err := m.carrier.sessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	current := ""
	if s := fromContext(ctx); s != nil {
		current = s.Handle()
	}
	out := make([]SessionInfo, 0, len(recs))
	for _, r := range recs {
		out = append(out, SessionInfo{
			Handle:          r.Key,
			CreatedAt:       r.Meta.CreatedAt,
			LastSeen:        r.Meta.LastSeen,
			AuthenticatedAt: r.Meta.AuthenticatedAt,
			UserAgent:       r.Meta.UserAgent,
			IP:              r.Meta.IP,
			Current:         r.Key == current,
			Remembered:      m.remembered(&r.Meta),
			Methods:         authmethod.Decode(r.Meta.Methods),
		})
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return b.LastSeen.Compare(a.LastSeen) })
	return out, nil
}

// sessions returns the user's sessions that are live by the Manager's
// policy (the store prunes by its TTL; the Manager also applies per-session
// and clock-based limits).
func (c *storeCarrier) sessions(ctx context.Context, userID string) ([]IndexedRecord, error) {
	m := c.m
	if m.index == nil {
		return nil, ErrNoIndex
	}
	if userID == "" {
		return nil, ErrNoUser
	}
	recs, err := m.listUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := m.now()
	return slices.DeleteFunc(recs, func(r IndexedRecord) bool {
		return r.Meta.UserID != userID || m.ownExpired(&r.Meta, now) != "" // header sessions: own limits (headless.go)
	}), nil
}

// Revoke ends one of the user's sessions, named by its SessionInfo.Handle.
// It returns an error wrapping ErrNotFound when the user has no such session
// (a handle of another user's session is not found, too).
func (m *Manager) Revoke(ctx context.Context, userID, handle string) error {
	if userID == "" {
		return ErrNoUser
	}
	return m.carrier.revoke(ctx, userID, handle)
}

// revoke is Manager.Revoke with a server store.
func (c *storeCarrier) revoke(ctx context.Context, userID, handle string) error {
	m := c.m
	if !sid.Valid(handle) {
		return fmt.Errorf("session: revoke: malformed handle: %w", ErrNotFound)
	}
	// A handle the device renewed since the list was read still names it:
	// through its family (see Rotator.Family).
	key, rec, err := m.resolveHandle(ctx, "revoke", handle)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("session: revoke: %w", err)
	}
	if err != nil {
		return err
	}
	if rec.UserID != userID {
		return fmt.Errorf("session: revoke: %w", ErrNotFound)
	}
	// The device may renew its ID again before the end lands: ending the
	// family ends whatever ID it has.
	if _, ok := m.store.(Rotator); ok {
		if _, err := endKeyAndFamily(ctx, m.store, key, storekit.FamilyOf(key, &rec.Meta)); err != nil {
			return m.storeErr(ctx, "revoke", err)
		}
	} else if err := m.deleteRecord(ctx, "revoke", key); err != nil {
		return err
	}
	m.emit(ctx, m.actor(ctx, Event{Kind: EventRevoked, UserID: userID, Session: handleRef(handle),
		TargetIP: rec.IP, TargetUserAgent: rec.UserAgent, Reason: "revoke"}))
	return nil
}

// RevokeUser logs the user out everywhere: every session of the user ends at
// once, including any the index missed (the user's generation is bumped and
// checked on every load). Call it when an account is disabled or deleted, or
// from an admin tool. Sessions created afterwards are unaffected.
func (m *Manager) RevokeUser(ctx context.Context, userID string) error {
	if userID == "" {
		return ErrNoUser
	}
	return m.carrier.revokeUser(ctx, userID)
}

// revokeUser is Manager.RevokeUser with a server store.
func (c *storeCarrier) revokeUser(ctx context.Context, userID string) error {
	m := c.m
	if m.index == nil {
		return ErrNoIndex
	}
	if err := m.revokeUser(ctx, userID); err != nil {
		return err
	}
	m.emit(ctx, m.actor(ctx, Event{Kind: EventRevoked, UserID: userID, Reason: "revoke_user"}))
	return nil
}

// RevokeOthers ends every other session of this session's user and gives
// this one a fresh ID: the step after a password change. It needs a
// logged-in session and a store implementing UserIndex.
//
// The revocation comes first, in the same store step as the renewal (see
// Rotation.RevokeUser): if this session was ended meanwhile (another tab
// logged out), the other sessions are still revoked, and RevokeOthers
// returns an error wrapping ErrNotFound with the request going on
// anonymous; the user must log in again.
func (s *Session) RevokeOthers(ctx context.Context) error {
	if s.detached() {
		return s.err
	}
	return s.m.carrier.revokeOthers(ctx, s)
}

// revokeOthers is Session.RevokeOthers with a server store.
func (c *storeCarrier) revokeOthers(ctx context.Context, s *Session) error {
	m := c.m
	if m.index == nil {
		return ErrNoIndex
	}
	s.mu.Lock()
	defer s.unlock()
	if err := s.readyUser(); err != nil {
		return err
	}
	meta := s.rec.Meta
	meta.LastSeen = m.now()
	err := s.rotate(ctx, &Rotation{Meta: meta, Delta: s.pending(), RevokeUser: true})
	if errors.Is(err, ErrNotFound) {
		s.queue(Event{Kind: EventRevoked, UserID: meta.UserID, Reason: "revoke_others"})
	}
	if err != nil {
		return err
	}
	s.queue(s.event(EventRevoked, s.token, meta.UserID, "revoke_others"))
	return nil
}
