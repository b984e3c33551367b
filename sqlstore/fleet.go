package sqlstore

import (
	"context"
	"time"
)

// RevokeAll implements [session.Fleet] with one upsert of the cutoff in
// session_cutoff: from then on every read and write of a session (Load,
// Update, Rotate, UserSessions) compares its creation time with it, so
// every session created before cutoff is revoked at once, whatever the
// number of rows. The rows stay until the reaper purges them at their
// expiry. A cutoff earlier than the current one changes nothing.
func (s *Store) RevokeAll(ctx context.Context, cutoff time.Time) error {
	const op = "revoke all"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return s.wrap(op, err)
	}
	stmt := `INSERT INTO session_cutoff (id, cutoff_ns) VALUES (1, ?)
 ON CONFLICT (id) DO UPDATE SET cutoff_ns = GREATEST(session_cutoff.cutoff_ns, excluded.cutoff_ns)`
	switch s.d {
	case MySQL:
		stmt = `INSERT INTO session_cutoff (id, cutoff_ns) VALUES (1, ?)
 ON DUPLICATE KEY UPDATE cutoff_ns = GREATEST(cutoff_ns, VALUES(cutoff_ns))`
	case SQLite:
		stmt = `INSERT INTO session_cutoff (id, cutoff_ns) VALUES (1, ?)
 ON CONFLICT (id) DO UPDATE SET cutoff_ns = MAX(cutoff_ns, excluded.cutoff_ns)`
	}
	err := s.writeConn(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, s.d.rebind(stmt), ns(cutoff))
		return err
	})
	return s.wrap(op, err)
}

// Count implements [session.Fleet]: the live, unexpired sessions that no
// revocation ended, in one SELECT over session_records (O(n): for an admin
// page, not a request).
func (s *Store) Count(ctx context.Context) (int, error) {
	const op = "count"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return 0, s.wrap(op, err)
	}
	var n int64
	err := s.withConn(ctx, func(q querier) error {
		return q.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM session_records r WHERE r.state = 0
 AND r.expires_ns > ? AND r.gen >= `+curGen+` AND r.created_ns >= `+cutoffOf), s.now().UnixNano()).Scan(&n)
	})
	return int(n), s.wrap(op, err)
}
