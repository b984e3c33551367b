package session

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sort"
	"strings"

	"github.com/sessionkit/session/internal/clientstr"
)

// Event kinds emitted by the Manager, as slog messages and Event.Kind.
const (
	EventCreated         = "session.created"
	EventLogin           = "session.login"
	EventRenewed         = "session.renewed"
	EventDestroyed       = "session.destroyed"
	EventExpiredIdle     = "session.expired_idle"
	EventExpiredAbsolute = "session.expired_absolute"
	EventRejected        = "session.rejected"
	EventRevoked         = "session.revoked"
	EventEvicted         = "session.evicted"
	EventLoginRefused    = "session.login_refused"
	EventCSRFFailure     = "session.csrf_failure"
	EventCrossOrigin     = "session.cross_origin_refused"
	EventBindingChanged  = "session.binding_changed"
	EventBruteForce      = "session.brute_force"
	EventStoreError      = "session.store_error"
	// EventCapacity reports a store that refused a new record because it
	// is full (see WithMaxRecords).
	EventCapacity = "session.store_full"
	// EventRefreshReused reports a rotated header-session token (a refresh
	// token) presented again: its session was ended (see ErrReused).
	EventRefreshReused = "session.refresh_reused"
	// EventUncommitted reports a request whose session changed (a value set, a
	// Login, a Destroy, a CSRF nonce issued...) but whose response went out
	// through another ResponseWriter than the one [Manager.Handler] passed to
	// its handler: the Set-Cookie and cache headers of the commit never reached
	// the client. The usual cause is a router that writes through its own
	// writer, such as gin mounted with `c.Request = r; c.Next()`; use the
	// router's adapter (package ginsession for gin). It is logged at ERROR.
	// Changes to the values of an already stored session are still saved; a
	// new session is not stored (no client could present its ID).
	EventUncommitted = "session.uncommitted"
)

// eventHash returns the keyed hash prefix of a token for logs (ASVS 16.2.5).
func (m *Manager) eventHash(token string) string {
	if token == "" {
		return ""
	}
	mac := hmac.New(sha256.New, m.eventKey)
	mac.Write([]byte(token))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}

// emit logs e at the level its kind deserves and hands it to OnEvent. extra
// attributes go to the log line only (a store error's detail).
func (m *Manager) emit(ctx context.Context, e Event, extra ...slog.Attr) {
	m.emitAt(ctx, m.eventLevel(e.Kind), e, extra...)
}

// emitAt is emit at the given level.
func (m *Manager) emitAt(ctx context.Context, level slog.Level, e Event, extra ...slog.Attr) {
	if e.Time.IsZero() {
		e.Time = m.now()
	}
	// Client strings are bounded here, whatever the caller passed.
	e.IP, e.UserAgent, e.Reason = clientstr.Clean(e.IP), clientstr.Clean(e.UserAgent), clientstr.Clean(e.Reason)
	e.TargetIP, e.TargetUserAgent = clientstr.Clean(e.TargetIP), clientstr.Clean(e.TargetUserAgent)
	if m.logger.Enabled(ctx, level) {
		attrs := make([]slog.Attr, 0, 6)
		attrs = append(attrs, slog.String("session", e.Session))
		if e.UserID != "" {
			attrs = append(attrs, slog.String("user", e.UserID))
		}
		if e.IP != "" {
			attrs = append(attrs, slog.String("ip", e.IP))
		}
		if e.UserAgent != "" {
			attrs = append(attrs, slog.String("user_agent", e.UserAgent))
		}
		if e.Reason != "" {
			attrs = append(attrs, slog.String("reason", e.Reason))
		}
		if e.TargetIP != "" || e.TargetUserAgent != "" {
			attrs = append(attrs, slog.String("target_ip", e.TargetIP), slog.String("target_user_agent", e.TargetUserAgent))
		}
		attrs = append(attrs, extra...)
		m.logger.LogAttrs(ctx, level, e.Kind, attrs...)
	}
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(ctx, e)
	}
}

// watchExpiry registers m with the store (or the first store its Unwrap
// chain reaches) that implements ExpiryNotifier, so that sessions it drops
// for expiry are reported (see expired).
func (m *Manager) watchExpiry() {
	if n, ok := findStore[ExpiryNotifier](m.store); ok {
		n.NotifyExpired(m.expired)
	}
}

// expired emits the event of a session its store dropped for expiry with
// no request to see it (ExpiryNotifier): the kind of the deadline that
// passed, dated at it, Reason "expired", and the recorded user and device
// as far as the store kept them. The session is named by its handle's
// prefix: the store never had the token. Without a user (an anonymous
// session, or a store that keeps none) it is logged at DEBUG at most, like
// anonymous creation: routine traffic.
func (m *Manager) expired(ctx context.Context, r IndexedRecord) {
	if isRevocation(&r.Meta) {
		return // a CookieStore's revocation list shares the store: not a session
	}
	e := Event{Kind: m.expiryKind(&r.Meta), Time: r.Meta.Expires, UserID: r.Meta.UserID, Reason: "expired",
		TargetIP: r.Meta.IP, TargetUserAgent: r.Meta.UserAgent}
	if r.Key != "" {
		e.Session = handleRef(r.Key)
	}
	level := m.eventLevel(e.Kind)
	if e.UserID == "" {
		level = min(level, slog.LevelDebug)
	}
	m.emitAt(ctx, level, e)
}

// handleRef names a session in an event by a prefix of its handle (its
// store key), where the token is not known: "handle:" and 8 characters.
func handleRef(key string) string { return "handle:" + key[:min(8, len(key))] }

// isRevocation reports whether meta is a record of a CookieStore's
// revocation list (cookiemode.go, writeRevocation: no user, and a creation
// time that is its own end, which no session has). A store shared by a
// revocation list and a server-mode Manager reports it when it lapses: it
// is not a session that expired.
func isRevocation(meta *Meta) bool {
	return meta.UserID == "" && !meta.CreatedAt.IsZero() && !meta.CreatedAt.Before(meta.Expires)
}

// actor returns e with IP and UserAgent set to those of the request whose
// session ctx carries (the one that called a Manager method from a
// handler); e is unchanged when ctx carries none.
func (m *Manager) actor(ctx context.Context, e Event) Event {
	if s := fromContext(ctx); s != nil && s.req != nil {
		e.IP, e.UserAgent = m.clientIP(s.req), s.req.UserAgent()
	}
	return e
}

// pendingEvent is an event queued under a session's lock, with the detail
// of a store error for its log line.
type pendingEvent struct {
	e      Event
	detail string
}

// queue records an event to emit once s.mu is released. The caller holds
// s.mu.
func (s *Session) queue(e Event) { s.queueEvent(pendingEvent{e: e}) }

// queueEvent appends p to the queued events; the list is allocated only
// when a request has events.
func (s *Session) queueEvent(p pendingEvent) {
	if s.events == nil {
		s.events = new([]pendingEvent)
	}
	*s.events = append(*s.events, p)
}

// unlock releases s.mu, then emits the events queued under it: a hook or a
// context-aware log handler may call back into s.
func (s *Session) unlock() {
	if s.events == nil || len(*s.events) == 0 {
		s.mu.Unlock()
		return
	}
	events := *s.events
	*s.events = nil
	s.mu.Unlock()
	for _, p := range events {
		if p.detail != "" {
			s.m.emit(s.req.Context(), p.e, slog.String("error", p.detail))
		} else {
			s.m.emit(s.req.Context(), p.e)
		}
	}
}

// storeErr reports a store failure met under s.mu: the event is queued (see
// unlock) and the error returned wrapped for the error handler.
func (s *Session) storeErr(op string, err error) error {
	e, werr := s.m.storeFailure(op, err)
	if e != nil {
		s.queueEvent(pendingEvent{e: *e, detail: err.Error()})
	}
	return werr
}

// defaultEventLevels is the slog level of each event kind unless
// [Config.EventLevels] says otherwise: routine anonymous traffic at DEBUG,
// a user's own lifecycle at INFO, what an attacker or a broken client
// produces at WARN, what an operator must fix at ERROR.
var defaultEventLevels = map[string]slog.Level{
	EventCreated:         slog.LevelDebug,
	EventLogin:           slog.LevelInfo,
	EventRenewed:         slog.LevelInfo,
	EventDestroyed:       slog.LevelInfo,
	EventExpiredIdle:     slog.LevelInfo,
	EventExpiredAbsolute: slog.LevelInfo,
	EventRevoked:         slog.LevelInfo,
	EventEvicted:         slog.LevelInfo,
	EventImported:        slog.LevelInfo,
	EventRejected:        slog.LevelWarn,
	EventLoginRefused:    slog.LevelWarn,
	EventCSRFFailure:     slog.LevelWarn,
	EventCrossOrigin:     slog.LevelWarn,
	EventBindingChanged:  slog.LevelWarn,
	EventBruteForce:      slog.LevelWarn,
	EventRefreshReused:   slog.LevelWarn,
	EventImportFailed:    slog.LevelWarn,
	EventStoreError:      slog.LevelError,
	EventCapacity:        slog.LevelError,
	EventUncommitted:     slog.LevelError,
}

// eventLevels merges the configured overrides into the defaults. An
// unknown kind is refused: a misspelt kind would silently keep its default.
func eventLevels(overrides map[string]slog.Level) (map[string]slog.Level, error) {
	levels := make(map[string]slog.Level, len(defaultEventLevels))
	for k, l := range defaultEventLevels {
		levels[k] = l
	}
	var unknown []string
	for k, l := range overrides {
		if _, ok := defaultEventLevels[k]; !ok {
			unknown = append(unknown, k)
			continue
		}
		levels[k] = l
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, invalid("EventLevels names unknown event kinds: %s", strings.Join(unknown, ", "))
	}
	return levels, nil
}

// eventLevel is the level e is logged at; a kind without a level (none
// today) is logged at INFO.
func (m *Manager) eventLevel(kind string) slog.Level {
	if l, ok := m.levels[kind]; ok {
		return l
	}
	return slog.LevelInfo
}

// Events of [Config.Import].
const (
	// EventImported reports a legacy session adopted by [Config.Import]:
	// its user was logged in under a new ID of ours (Event.Session is the
	// new session's hash). Reason lists the values that could not be
	// adopted ("dropped:cart,theme"), if any.
	EventImported = "session.imported"
	// EventImportFailed reports an [Importer] error or panic, or a legacy
	// session that could not be logged in (Reason "importer_error",
	// "importer_panic" or "login_failed"; the detail is in the log line
	// only). The request goes on with a new anonymous session.
	EventImportFailed = "session.import_failed"
)
