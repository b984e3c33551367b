package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/sessionkit/session/internal/csrf"
	"github.com/sessionkit/session/internal/sid"
)

// Manager issues, loads and commits sessions. Create one with New, wrap your
// handlers with Handler, and reach the request's session with FromContext.
// A Manager is safe for concurrent use.
type Manager struct {
	cfg      Config
	store    Store
	carrier  carrier   // how sessions travel: chosen by New (carrier.go)
	index    UserIndex // nil when the store keeps no per-user index
	logger   *slog.Logger
	levels   map[string]slog.Level // the level of each event kind (events.go)
	eventKey []byte
	cop      *http.CrossOriginProtection // nil when disabled
	owned    io.Closer                   // the store New created, closed by Close
	bf       *bruteForce                 // nil when disabled
	signer   *sid.Signer                 // nil unless Config.SigningKeys
	csrfKeys [][]byte                    // keys of stateless CSRF tokens (csrf_stateless.go)
	// legacyCookie is the session cookie's name in earlier releases, read
	// when the current one is absent ("" for none: see CookieConfig.Name).
	legacyCookie string
	// keyDomain is the domain of the store keys of tokens issued under the
	// current cookie name when the legacy name is read too (see keyOf).
	keyDomain string
}

// New returns a Manager for cfg, filling zero fields with safe defaults. It
// returns an error wrapping ErrInvalidConfig when a setting is unsafe or
// contradictory, rather than silently weakening it.
func New(cfg Config) (*Manager, error) {
	defaultName := cfg.Cookie.Name == "" // an explicit name is unchanged: see CookieConfig.Name
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	levels, err := eventLevels(cfg.EventLevels)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, store: cfg.Store, logger: cfg.Logger, levels: levels, eventKey: cfg.EventKey}
	if !cfg.DisableCrossOriginProtection {
		m.cop = http.NewCrossOriginProtection()
		for _, o := range cfg.TrustedOrigins {
			if err := m.cop.AddTrustedOrigin(o); err != nil {
				return nil, fmt.Errorf("%w: trusted origin: %w", ErrInvalidConfig, err)
			}
		}
	}
	if m.store == nil {
		ms := NewMemoryStore()
		m.store, m.owned = ms, ms
	}
	shareClock(m.store, cfg.Clock)
	c, err := newCarrier(m)
	if err != nil {
		return nil, err
	}
	m.carrier = c
	m.readLegacyName(defaultName)
	if len(cfg.SigningKeys) > 0 {
		m.signer = &sid.Signer{Keys: cfg.SigningKeys}
	}
	m.csrfKeys = csrf.NewKeys(cfg.SigningKeys)
	if cfg.BruteForce.Threshold > 0 {
		m.bf = newBruteForce(cfg.BruteForce)
	}
	m.index, _ = m.store.(UserIndex)
	_, rotator := m.store.(Rotator)
	if cfg.MaxSessionsPerUser > 0 && (m.index == nil || !rotator) {
		return nil, fmt.Errorf("%w: MaxSessionsPerUser needs a store implementing UserIndex and Rotator", ErrInvalidConfig)
	}
	m.watchExpiry()
	return m, nil
}

// readLegacyName makes the Manager read the default cookie's name in
// earlier releases, and key the tokens of the current one apart (see
// CookieConfig.Name and keyOf): only for the default name, left empty
// (defaultName), in cookie transport.
func (m *Manager) readLegacyName(defaultName bool) {
	if !defaultName || m.cfg.Cookie.Name != defaultCookieName || m.cfg.TokenHeader != "" {
		return
	}
	m.legacyCookie = legacyCookieName
	if _, ok := m.carrier.(*storeCarrier); ok {
		m.keyDomain = defaultCookieName + ":" // a sealed cookie is bound to its name instead
	}
}

// Close releases what New created (the default in-memory store). A store
// passed in Config is the caller's to close.
func (m *Manager) Close() error {
	if m.owned != nil {
		return m.owned.Close()
	}
	return nil
}

// Store returns the store the Manager uses.
func (m *Manager) Store() Store { return m.store }

func (m *Manager) now() time.Time { return m.cfg.Clock() }

// limits returns the effective idle and absolute timeouts of a record: its own
// when set, the Manager's otherwise. Own limits longer than the Manager's
// count only for a persistent session (a remembered login sets both; see
// Remember): SetTimeouts caps them, and a record written before that cap
// cannot outlive the Manager's limits.
func (m *Manager) limits(meta *Meta) (idle, abs time.Duration) {
	idle, abs = m.cfg.IdleTimeout, m.cfg.AbsoluteTimeout
	if meta.IdleTimeout > 0 && (meta.Persist || meta.IdleTimeout < idle) {
		idle = meta.IdleTimeout
	}
	if meta.AbsoluteTimeout > 0 && (meta.Persist || meta.AbsoluteTimeout < abs) {
		abs = meta.AbsoluteTimeout
	}
	return idle, abs
}

// expiry returns the earlier of the idle and absolute deadlines of meta.
func (m *Manager) expiry(meta *Meta) time.Time {
	idle, abs := m.limits(meta)
	return deadline(meta, idle, abs)
}

// expiredReason returns the event kind for a record past one of its deadlines
// at now, or "" if it is live. It uses the record's own timestamps, never the
// cookie.
func (m *Manager) expiredReason(meta *Meta, now time.Time) string {
	idle, abs := m.limits(meta)
	return expiredKind(meta, idle, abs, now)
}

// touchInterval is how old a session's last-seen time may get before a
// request refreshes it: Config.TouchInterval, scaled down with a shorter
// per-session idle limit so that an active session never idles out.
func (m *Manager) touchInterval(meta *Meta) time.Duration {
	idle, _ := m.limits(meta)
	if idle >= m.cfg.IdleTimeout {
		return m.cfg.TouchInterval
	}
	return time.Duration(float64(m.cfg.TouchInterval) * float64(idle) / float64(m.cfg.IdleTimeout))
}

// linger is how long a store keeps the tombstone of a session with meta:
// its idle limit, and at least the rotation grace period; for a logged-in
// session at least Config.TombstonePeriod too.
func (m *Manager) linger(meta *Meta) time.Duration {
	idle, _ := m.limits(meta)
	if meta.UserID == "" {
		return max(idle, m.cfg.RotationGrace)
	}
	return max(idle, m.cfg.RotationGrace, m.cfg.TombstonePeriod)
}

// expiryKind tells an idle expiry from an absolute one by which deadline
// came first.
func (m *Manager) expiryKind(meta *Meta) string {
	idle, abs := m.limits(meta)
	if !meta.CreatedAt.Add(abs).After(meta.LastSeen.Add(idle)) {
		return EventExpiredAbsolute
	}
	return EventExpiredIdle
}

// storeErr reports a store failure met outside a session's lock as an
// EventStoreError (EventCapacity for a full store) whose Reason is op,
// logged with the error's detail, and returns it wrapped for the error
// handler.
func (m *Manager) storeErr(ctx context.Context, op string, err error) error {
	e, werr := m.storeFailure(op, err)
	if e != nil {
		m.emit(ctx, *e, slog.String("error", err.Error()))
	}
	return werr
}

// storeFailure wraps a store failure in ErrStore (once) and returns the
// event that reports it (its Reason is op; the error's detail, never a
// token since stores see only hashed keys, goes to the log line only); nil
// for a cancelled request, which alarms nobody.
func (m *Manager) storeFailure(op string, err error) (*Event, error) {
	werr := fmt.Errorf("session: %s: %w", op, err)
	if !errors.Is(err, ErrStore) && !errors.Is(err, context.Canceled) {
		werr = fmt.Errorf("session: %s: %w: %w", op, ErrStore, err)
	}
	if errors.Is(err, context.Canceled) {
		return nil, werr
	}
	kind := EventStoreError
	if errors.Is(err, ErrCapacity) {
		kind = EventCapacity
	}
	return &Event{Kind: kind, Reason: op}, werr
}
