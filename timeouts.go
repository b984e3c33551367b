package session

import "time"

// A session's own limits (Meta.IdleTimeout, Meta.AbsoluteTimeout): a header
// session (Manager.Issue) lives by them alone; a cookie session never
// outlives the Manager's (see Manager.limits).

// ownLimits returns meta's own limits, the Manager's where unset.
func (m *Manager) ownLimits(meta *Meta) (idle, abs time.Duration) {
	idle, abs = meta.IdleTimeout, meta.AbsoluteTimeout
	if idle <= 0 {
		idle = m.cfg.IdleTimeout
	}
	if abs <= 0 {
		abs = m.cfg.AbsoluteTimeout
	}
	return idle, abs
}

// ownExpiry is the earlier of a header session's deadlines (Issue always
// sets both limits).
func ownExpiry(meta *Meta) time.Time {
	idleAt, absAt := meta.LastSeen.Add(meta.IdleTimeout), meta.CreatedAt.Add(meta.AbsoluteTimeout)
	if absAt.Before(idleAt) {
		return absAt
	}
	return idleAt
}

// ownExpired is expiredReason under meta's own limits: for header sessions,
// and for the devices list, which holds both kinds (a cookie session is
// never listed past its own limits; its load applies the Manager's).
func (m *Manager) ownExpired(meta *Meta, now time.Time) string {
	idle, abs := m.ownLimits(meta)
	switch {
	case !now.Before(meta.CreatedAt.Add(abs)):
		return EventExpiredAbsolute
	case !now.Before(meta.LastSeen.Add(idle)):
		return EventExpiredIdle
	}
	return ""
}
