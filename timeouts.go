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
func ownExpiry(meta *Meta) time.Time { return deadline(meta, meta.IdleTimeout, meta.AbsoluteTimeout) }

// ownExpired is expiredReason under meta's own limits: for header sessions,
// and for the devices list, which holds both kinds (a cookie session is
// never listed past its own limits; its load applies the Manager's).
func (m *Manager) ownExpired(meta *Meta, now time.Time) string {
	idle, abs := m.ownLimits(meta)
	return expiredKind(meta, idle, abs, now)
}

// deadline is the earlier of meta's idle and absolute deadlines under the
// limits idle and abs.
func deadline(meta *Meta, idle, abs time.Duration) time.Time {
	idleAt, absAt := meta.LastSeen.Add(idle), meta.CreatedAt.Add(abs)
	if absAt.Before(idleAt) {
		return absAt
	}
	return idleAt
}

// expiredKind is the event kind of a record past one of its deadlines under
// the limits idle and abs at now (the absolute one first), or "".
func expiredKind(meta *Meta, idle, abs time.Duration, now time.Time) string {
	switch {
	case !now.Before(meta.CreatedAt.Add(abs)):
		return EventExpiredAbsolute
	case !now.Before(meta.LastSeen.Add(idle)):
		return EventExpiredIdle
	}
	return ""
}
