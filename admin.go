package session

import "context"

// Operations on every session at once, for an admin tool (ASVS 7.4.5). They
// need a store implementing [Fleet] (the memory and Redis stores do) and
// return an error wrapping [errors.ErrUnsupported] otherwise.

// RevokeAll logs every user out everywhere, anonymous sessions included: each
// session created before the call is ended in O(1), with one store write:
// the store compares every session's creation time with the cutoff when it
// loads it. Renewed sessions keep their creation time, so they end too;
// sessions created afterwards (a login a moment later) are unaffected. The
// cutoff is read from the Manager's clock and compared with creation times
// written by the clocks of all your servers: keep them synchronised (NTP),
// as the timeouts already require. It emits an [EventRevoked]
// with Reason "revoke_all". Use it after a breach, or to force a new login
// policy on everyone.
func (m *Manager) RevokeAll(ctx context.Context) error {
	if err := m.revokeAll(ctx, m.now()); err != nil {
		return err
	}
	m.emit(ctx, m.actor(ctx, Event{Kind: EventRevoked, Reason: "revoke_all"}))
	return nil
}

// CountSessions returns the number of live sessions, anonymous ones
// included. It may walk every record (the memory store's shards, a Redis
// SCAN): for an admin page or a periodic gauge, not for every request.
func (m *Manager) CountSessions(ctx context.Context) (int, error) {
	return m.countSessions(ctx)
}
