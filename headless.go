package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sessionkit/session/internal/authmethod"
	"github.com/sessionkit/session/internal/clientstr"
	"github.com/sessionkit/session/internal/sid"
)

// Sessions without a cookie: a client that keeps its token itself (a mobile
// app, a single-page app's refresh token, a CLI) and presents it in a
// header. Such a session is a record in the same Store as the cookie
// sessions, so it is listed by [Manager.Sessions], ended by
// [Manager.Revoke], [Manager.RevokeUser] and [Session.RevokeOthers], and
// counted by [Config.MaxSessionsPerUser]. Its token is rotated on every use
// ([Manager.Rotate]); a rotated token presented again is taken as stolen and
// ends the session. Package tokens builds access and refresh tokens on it.
//
// Its tokens live in their own key space: a cookie's token never names a
// header session and a header session's token is never adopted as a cookie.

// Lifetimes are the own limits of a header session ([Manager.Issue]): they
// replace the Manager's cookie timeouts and may be longer than them. Zero
// fields take the Manager's.
type Lifetimes struct {
	// Idle ends the session when it was not rotated for this long.
	Idle time.Duration
	// Absolute ends the session this long after Issue, however active.
	Absolute time.Duration
}

// Issued is a header session as [Manager.Issue] or [Manager.Rotate] left it.
type Issued struct {
	// Token is the bearer token for the client: 67 base64url characters,
	// a part naming its session (the same in every token of the session)
	// and 256 fresh random bits. Only hashes of it are stored. Never log
	// it.
	Token string
	// UserID is the session's user.
	UserID string
	// Expires is the earlier of the idle and absolute deadlines: the token
	// is refused from then on unless rotated before.
	Expires time.Time
	// SessionInfo describes the session as [Manager.Sessions] lists it;
	// its Handle changes with every rotation.
	SessionInfo
}

// Issue starts a header session for userID, authenticated now, with its own
// limits, and returns its first token. The device (User-Agent, client IP)
// is taken from r (none when r is nil). It is one atomic store step (see [Rotator]), under
// [Config.MaxSessionsPerUser] as a login is.
func (m *Manager) Issue(ctx context.Context, r *http.Request, userID string, lt Lifetimes) (*Issued, error) {
	if userID == "" {
		return nil, ErrNoUser
	}
	if lt.Idle < 0 || lt.Absolute < 0 {
		return nil, fmt.Errorf("session: issue: negative lifetime")
	}
	if lt.Idle == 0 {
		lt.Idle = m.cfg.IdleTimeout
	}
	if lt.Absolute == 0 {
		lt.Absolute = max(m.cfg.AbsoluteTimeout, lt.Idle)
	}
	now := m.now()
	meta := Meta{
		UserID:          userID,
		CreatedAt:       now,
		LastSeen:        now,
		AuthenticatedAt: now,
		IdleTimeout:     lt.Idle,
		AbsoluteTimeout: lt.Absolute,
	}
	if r != nil { // no request (a job, a test): no device to show
		meta.UserAgent, meta.IP = clientstr.Clean(r.UserAgent()), clientstr.Clean(m.clientIP(r))
	}
	meta.Linger = max(lt.Idle, m.cfg.RotationGrace, m.cfg.TombstonePeriod)
	if _, ok := m.store.(Rotator); !ok {
		// A reused token must end its whole session (EndFamily).
		return nil, fmt.Errorf("session: issue: the store does not implement Rotator: %w", errors.ErrUnsupported)
	}
	token := sid.NewHeader()
	meta.Family = sid.HeaderFamily(token)
	rot := &Rotation{NewKey: sid.HeaderKey(token), Meta: meta, MaxSessions: m.cfg.MaxSessionsPerUser, RefuseNew: m.cfg.RefuseOverLimit}
	rot.Meta.Expires = ownExpiry(&rot.Meta)
	rot.Delta.Timeouts = &Timeouts{Idle: lt.Idle, Absolute: lt.Absolute, Linger: meta.Linger}
	evicted, err := m.rotateKey(ctx, "issue", rot)
	if err != nil {
		if errors.Is(err, ErrTooManySessions) {
			m.emit(ctx, m.headlessEvent(r, EventLoginRefused, "", userID, "max_sessions"))
		}
		return nil, err
	}
	m.emitEvicted(ctx, userID, evicted)
	m.emit(ctx, m.headlessEvent(r, EventLogin, token, userID, "issue"))
	return m.issued(token, rot.NewKey, &rot.Meta), nil
}

// Rotate replaces a header session's token by a new one (the old one dies)
// and refreshes its idle deadline. It returns an error wrapping
// [ErrNotFound] when the token names no live session (never issued,
// expired, ended), and one wrapping [ErrReused] as well when the token is
// a retired one of a session: the session is then ended (see [ErrReused])
// and a [EventRefreshReused] emitted. A retired token is recognised for as
// long as its session lives, however many rotations ago and however long
// ago it was retired.
//
// One exception keeps a client whose response was lost logged in: the
// token rotated last, presented again within grace of its rotation while
// its successor is still unused, rotates that successor once more and
// returns the result (the successor dies). Only one such retry succeeds: a
// further duplicate finds the successor used and counts as reuse. A client
// must therefore not refresh concurrently with itself and must keep the
// last token it received.
//
// On a store implementing [Refresher] (Redis, single server or Sentinel) it
// costs one round trip; otherwise a Load and a Rotate.
func (m *Manager) Rotate(ctx context.Context, r *http.Request, token string, grace time.Duration) (*Issued, error) {
	if !sid.ValidHeader(token) {
		return nil, fmt.Errorf("session: rotate: malformed token: %w", ErrNotFound)
	}
	key := sid.HeaderKey(token)
	iss, err := m.renewKey(ctx, r, token, key, "refresh")
	if !errors.Is(err, ErrNotFound) {
		return iss, err
	}
	var t *Tombstone
	rotated := errors.As(err, &t) && t.Reason == EndRotated
	if rotated && grace > 0 && m.now().Sub(t.At) < grace && t.Next != "" {
		// A retry of a lost response: rotate the successor, if unused.
		iss, err := m.renewKey(ctx, r, token, t.Next, "refresh_retry")
		if !errors.Is(err, ErrNotFound) {
			return iss, err
		}
	}
	if t != nil && t.Reason == EndExpired {
		return nil, fmt.Errorf("session: rotate: %w", err) // this token's own session, expired
	}
	// A token of the session that is not its live one: a retired token,
	// its tombstone kept (rotated) or long gone. If the session still
	// lives, whoever holds it is not the one who rotated it last.
	return nil, m.reused(ctx, r, token, rotated, err)
}

// renewKey renews the header session under key, checking its limits on the
// Manager's clock: one Refresher step, or a Load and a Rotate. Its
// ErrNotFound carries the Tombstone of key when the store kept one (a
// rotation lost to a concurrent one reports the winner's). token is the
// one the client presented, for events.
func (m *Manager) renewKey(ctx context.Context, r *http.Request, token, key, reason string) (*Issued, error) {
	next := sid.NextHeader(token)
	newKey := sid.HeaderKey(next)
	now := m.now()
	if rf, ok := m.store.(Refresher); ok {
		meta, err := m.refreshRecord(ctx, rf, key, newKey, now)
		switch {
		case err == nil:
			if kind := m.ownExpired(meta, now); kind != "" {
				// Past a limit on the Manager's clock, not yet on the
				// store's: end it here.
				if err := m.deleteRecord(ctx, "delete expired", newKey); err != nil {
					return nil, err
				}
				m.emit(ctx, m.headlessEvent(r, kind, token, meta.UserID, ""))
				return nil, fmt.Errorf("session: rotate: %s: %w", kind, ErrNotFound)
			}
			m.emit(ctx, m.headlessEvent(r, EventRenewed, next, meta.UserID, reason))
			return m.issued(next, newKey, meta), nil
		case !errors.Is(err, errors.ErrUnsupported):
			return nil, err
		}
	}
	rec, err := m.loadRecord(ctx, "rotate", key)
	if err != nil {
		return nil, err
	}
	if kind := m.ownExpired(&rec.Meta, now); kind != "" {
		if err := m.deleteRecord(ctx, "delete expired", key); err != nil {
			return nil, err
		}
		m.emit(ctx, m.headlessEvent(r, kind, token, rec.UserID, ""))
		return nil, fmt.Errorf("session: rotate: %s: %w", kind, ErrNotFound)
	}
	meta := rec.Meta
	meta.LastSeen = now
	meta.Expires = ownExpiry(&meta)
	// A refresh replaces the session: no per-user cap to apply.
	rot := &Rotation{OldKey: key, NewKey: newKey, Meta: meta}
	if _, err := m.rotateKey(ctx, "rotate", rot); err != nil {
		if errors.Is(err, ErrNotFound) {
			// Rotated or ended since the load: report what is there now.
			if _, lerr := m.loadRecord(ctx, "rotate", key); lerr != nil {
				return nil, lerr
			}
		}
		return nil, err
	}
	m.emit(ctx, m.headlessEvent(r, EventRenewed, next, meta.UserID, reason))
	return m.issued(next, newKey, &rot.Meta), nil
}

// reused ends the session a retired token belongs to, in one store step on
// its family, and reports the reuse. A token whose session has no live
// record any more (ended, expired, revoked) is only reported as reuse when
// its tombstone says it was rotated; otherwise it is not found, with
// notFound, the error of its lookup.
func (m *Manager) reused(ctx context.Context, r *http.Request, token string, rotated bool, notFound error) error {
	ended, err := m.endFamily(ctx, "end reused", sid.HeaderFamily(token))
	switch {
	case err == nil:
		m.emit(ctx, m.headlessEvent(r, EventRefreshReused, token, ended.Meta.UserID, "ended"))
	case !errors.Is(err, ErrNotFound):
		return err
	case rotated:
		m.emit(ctx, m.headlessEvent(r, EventRefreshReused, token, "", "already_ended"))
	default:
		return fmt.Errorf("session: rotate: %w", notFound)
	}
	return fmt.Errorf("session: rotate: %w: %w", ErrReused, ErrNotFound)
}

// End ends the header session token belongs to (the client's logout): any
// token the session ever had, its current one or a retired one, ends it,
// whatever rotation races it. It returns an error wrapping [ErrNotFound]
// when the session has no live record.
func (m *Manager) End(ctx context.Context, token string) error {
	if !sid.ValidHeader(token) {
		return fmt.Errorf("session: end: malformed token: %w", ErrNotFound)
	}
	ended, err := m.endFamily(ctx, "end", sid.HeaderFamily(token))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("session: end: %w", err)
		}
		return err
	}
	m.emit(ctx, m.headlessEvent(nil, EventDestroyed, token, ended.Meta.UserID, "end"))
	return nil
}

// CheckLive reports, with an error wrapping [ErrNotFound], whether the
// session named by handle (a [SessionInfo.Handle], also a retired one of a
// session renewed since) has ended or belongs to another user; nil means
// it, or the session it was renewed to, is live. It costs a store round
// trip (two for a retired handle, found through its session's family):
// use it where a revocation must bite at once.
func (m *Manager) CheckLive(ctx context.Context, userID, handle string) error {
	if userID == "" {
		return ErrNoUser
	}
	if !sid.Valid(handle) {
		return fmt.Errorf("session: check: malformed handle: %w", ErrNotFound)
	}
	_, rec, err := m.resolveHandle(ctx, "check", handle)
	switch {
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("session: check: %w", err)
	case err != nil:
		return err
	case rec.UserID != userID || m.ownExpired(&rec.Meta, m.now()) != "":
		return fmt.Errorf("session: check: %w", ErrNotFound)
	}
	return nil
}

// issued describes the header session stored under key for token.
func (m *Manager) issued(token, key string, meta *Meta) *Issued {
	return &Issued{
		Token:   token,
		UserID:  meta.UserID,
		Expires: meta.Expires,
		SessionInfo: SessionInfo{
			Handle:          key,
			CreatedAt:       meta.CreatedAt,
			LastSeen:        meta.LastSeen,
			AuthenticatedAt: meta.AuthenticatedAt,
			UserAgent:       meta.UserAgent,
			IP:              meta.IP,
			Methods:         authmethod.Decode(meta.Methods),
		},
	}
}

// headlessEvent builds an event about a header session, with the client
// of r when there is one; the token appears only as its keyed hash.
func (m *Manager) headlessEvent(r *http.Request, kind, token, userID, reason string) Event {
	e := Event{Kind: kind, Session: m.eventHash(token), UserID: userID, Reason: reason}
	if r != nil {
		e.IP, e.UserAgent = m.clientIP(r), r.UserAgent()
	}
	return e
}

// emitEvicted reports the sessions the per-user cap ended.
func (m *Manager) emitEvicted(ctx context.Context, userID string, evicted []IndexedRecord) {
	for _, v := range evicted {
		m.emit(ctx, Event{Kind: EventEvicted, UserID: userID, Session: handleRef(v.Key), IP: v.Meta.IP, UserAgent: v.Meta.UserAgent, Reason: "max_sessions"})
	}
}
