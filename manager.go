package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"
)

// Manager issues, loads and commits sessions. Create one with New, wrap your
// handlers with Handler, and reach the request's session with FromContext.
// A Manager is safe for concurrent use.
type Manager struct {
	cfg      Config
	store    Store
	index    UserIndex // nil when the store keeps no per-user index
	logger   *slog.Logger
	eventKey []byte
	cop      *http.CrossOriginProtection // nil when disabled
	owned    io.Closer                   // the store New created, closed by Close
	bf       *bruteForce                 // nil when disabled
	signer   *signer                     // nil unless Config.SigningKeys
	csrfKeys [][]byte                    // keys of stateless CSRF tokens (csrf_stateless.go)
}

// New returns a Manager for cfg, filling zero fields with safe defaults. It
// returns an error wrapping ErrInvalidConfig when a setting is unsafe or
// contradictory, rather than silently weakening it.
func New(cfg Config) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, store: cfg.Store, logger: cfg.Logger, eventKey: cfg.EventKey}
	if !cfg.DisableCrossOriginProtection {
		m.cop = http.NewCrossOriginProtection()
		for _, o := range cfg.TrustedOrigins {
			if err := m.cop.AddTrustedOrigin(o); err != nil {
				return nil, fmt.Errorf("%w: trusted origin: %w", ErrInvalidConfig, err)
			}
		}
		m.cop.SetDenyHandler(http.HandlerFunc(m.denyCrossOrigin))
	}
	if m.store == nil {
		ms := NewMemoryStore(WithMemoryClock(cfg.Clock))
		m.store, m.owned = ms, ms
	}
	if len(cfg.SigningKeys) > 0 {
		m.signer = &signer{keys: cfg.SigningKeys}
	}
	m.csrfKeys = newCSRFKeys(cfg.SigningKeys)
	if cfg.BruteForce.Threshold > 0 {
		m.bf = newBruteForce(cfg.BruteForce)
	}
	m.index, _ = m.store.(UserIndex)
	if cfg.MaxSessionsPerUser > 0 && m.index == nil {
		return nil, fmt.Errorf("%w: MaxSessionsPerUser needs a store implementing UserIndex", ErrInvalidConfig)
	}
	return m, nil
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
// when set and shorter, the Manager's otherwise.
func (m *Manager) limits(meta *Meta) (idle, abs time.Duration) {
	idle, abs = m.cfg.IdleTimeout, m.cfg.AbsoluteTimeout
	if meta.IdleTimeout > 0 && meta.IdleTimeout < idle {
		idle = meta.IdleTimeout
	}
	if meta.AbsoluteTimeout > 0 && meta.AbsoluteTimeout < abs {
		abs = meta.AbsoluteTimeout
	}
	return idle, abs
}

// expiry returns the earlier of the idle and absolute deadlines of meta.
func (m *Manager) expiry(meta *Meta) time.Time {
	idle, abs := m.limits(meta)
	idleAt := meta.LastSeen.Add(idle)
	absAt := meta.CreatedAt.Add(abs)
	if absAt.Before(idleAt) {
		return absAt
	}
	return idleAt
}

// expiredReason returns the event kind for a record past one of its deadlines
// at now, or "" if it is live. It uses the record's own timestamps, never the
// cookie.
func (m *Manager) expiredReason(meta *Meta, now time.Time) string {
	idle, abs := m.limits(meta)
	switch {
	case !now.Before(meta.CreatedAt.Add(abs)):
		return EventExpiredAbsolute
	case !now.Before(meta.LastSeen.Add(idle)):
		return EventExpiredIdle
	}
	return ""
}

// storeErr logs a store failure with its detail (never a token: stores see
// only hashed keys) and returns it wrapped for the error handler.
func (m *Manager) storeErr(ctx context.Context, op string, err error) error {
	if errors.Is(err, context.Canceled) {
		// The client went away; nothing to alarm anyone about.
		return fmt.Errorf("session: %s: %w", op, err)
	}
	m.logger.LogAttrs(ctx, slog.LevelError, EventStoreError, slog.String("op", op), slog.String("error", err.Error()))
	if errors.Is(err, ErrStore) {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	return fmt.Errorf("session: %s: %w: %w", op, ErrStore, err)
}
