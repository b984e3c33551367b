package sqlstore

import (
	"context"
	"time"

	"github.com/sessionkit/session"
)

// purgeSlack is how far past its expiry plus linger an Update moves a
// live row's purge time (purge_ns) when the row's expiry outgrows it, so
// that a busy session's writes leave the indexed column, and so the row's
// indexes, alone for a minute at a time. The reaper may delete a row up
// to purgeSlack late; Load decides liveness and tombstones from the
// expiry and linger themselves, never from purge_ns of a live row.
const purgeSlack = time.Minute

// purgeSlackSQL is purgeSlack in nanoseconds, for the MySQL procedures'
// text (TestPurgeSlackSQL keeps the two equal).
const purgeSlackSQL = "60000000000"

// reaper runs Reap every reapEvery until Close.
func (s *Store) reaper() {
	defer s.wg.Done()
	t := time.NewTicker(s.reapEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stopCtx.Done():
			return
		case <-t.C:
			if _, err := s.Reap(s.stopCtx); err != nil && s.stopCtx.Err() == nil {
				s.log.Warn("sqlstore: reaper", "error", err)
			}
		}
	}
}

// Reap deletes the rows of sessions whose expiry and tombstone period
// (Meta.Linger) have both passed (a row whose writes slid its expiry up to
// a minute later: see the schema's purge_ns), and, with [WithAuditRetention], the audit
// rows older than the retention, in batches of at most [WithReapBatch] rows
// per statement, until none is left. It returns the number of rows
// deleted. The background reaper calls it; call it yourself when you
// disabled the reaper ([WithReapInterval] of zero) to run it elsewhere.
// With a [Store.NotifyExpired] callback, it reports the sessions among
// those rows that ended by expiry.
func (s *Store) Reap(ctx context.Context) (int64, error) {
	const op = "reap"
	var total int64
	for {
		n, listed, expired, err := s.reapBatchOnce(ctx)
		total += n
		if err != nil {
			return total, s.wrap(op, err)
		}
		s.notifyExpired(ctx, expired)
		if listed < s.reapBatch {
			break
		}
	}
	if s.retention <= 0 {
		return total, nil
	}
	cutoff := s.now().Add(-s.retention).UnixMilli()
	stmt := s.d.rebind(`DELETE FROM session_audit WHERE id IN (SELECT id FROM session_audit WHERE at < ? LIMIT ?)`)
	if s.d == MySQL { // no LIMIT in an IN subquery
		stmt = `DELETE FROM session_audit WHERE at < ? LIMIT ?`
	}
	for {
		var n int64
		err := s.writeConn(ctx, func(q querier) error {
			var err error
			n, err = affected(q.ExecContext(ctx, stmt, cutoff, s.reapBatch))
			return err
		})
		total += n
		if err != nil {
			return total, s.wrap(op, err)
		}
		if n < int64(s.reapBatch) {
			return total, nil
		}
	}
}

// reapBatchOnce deletes at most reapBatch purgeable session rows and their
// values, and returns how many rows it deleted and how many it found, and,
// with a NotifyExpired callback set, the sessions among them that ended by
// expiry.
func (s *Store) reapBatchOnce(ctx context.Context) (deleted int64, listed int, expired []session.IndexedRecord, err error) {
	now := s.now().UnixNano()
	var keys []any
	err = s.withConn(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, s.d.rebind(`SELECT skey FROM session_records WHERE purge_ns <= ? LIMIT ?`), now, s.reapBatch)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			keys = append(keys, k)
		}
		return rows.Err()
	})
	if err != nil || len(keys) == 0 {
		return 0, 0, nil, err
	}
	var n int64
	notify := s.onExpired.Load() != nil
	err = s.tx(ctx, func(q querier) error {
		// The purge time is checked again: a Create may have replaced a
		// row since it was listed.
		args := append(append([]any{}, keys...), now)
		var err error
		if notify {
			if expired, err = s.lockExpired(ctx, q, args); err != nil {
				return err
			}
		}
		n, err = affected(q.ExecContext(ctx, s.d.rebind(`DELETE FROM session_records WHERE skey IN (`+list(len(keys))+`) AND purge_ns <= ?`), args...))
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.d.rebind(`DELETE FROM session_values WHERE skey IN (`+list(len(keys))+`)
 AND NOT EXISTS (SELECT 1 FROM session_records r WHERE r.skey = session_values.skey)`), keys...)
		return err
	})
	if err != nil {
		expired = nil
	}
	return n, len(keys), expired, err
}

// lockExpired reads and locks, in the reaper's transaction, the rows its
// DELETE is about to remove (args: the listed keys, then now) that are
// sessions ended by expiry: live rows (not tombstones of a logout, a
// renewal or a revocation) whose user's generation is current and that
// RevokeAll did not end. Locked, they are the rows the DELETE removes.
func (s *Store) lockExpired(ctx context.Context, q querier, args []any) ([]session.IndexedRecord, error) {
	rows, err := q.QueryContext(ctx, s.d.rebind(`SELECT r.skey, `+metaCols+`, `+curGen+`, `+cutoffOf+
		` FROM session_records r WHERE r.skey IN (`+list(len(args)-1)+`) AND r.purge_ns <= ? AND r.state = 0`+s.d.forUpdate()), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []session.IndexedRecord
	for rows.Next() {
		var key string
		var w row
		if err := rows.Scan(append([]any{&key}, w.dest()...)...); err != nil {
			return nil, err
		}
		if len(w.user) > 0 && w.gen < w.cur || w.created < w.cutoff {
			continue // revoked, not expired
		}
		out = append(out, session.IndexedRecord{Key: key, Meta: w.meta()})
	}
	return out, rows.Err()
}

// NotifyExpired implements [session.ExpiryNotifier]: [Store.Reap] (the
// background reaper's, or yours) calls fn for each session row it deletes
// that ended by expiry, with the row's user, device and timestamps; not
// for the tombstone of a logout, a renewal or a revocation. A row is
// deleted, and so reported, only once its tombstone period (Meta.Linger,
// for a logged-in session at least the Manager's TombstonePeriod) has
// passed too: the report comes that long after the expiry it dates. With
// several instances on one database, the one whose reaper deletes a row
// reports it. A later call replaces fn; nil stops the calls. Close stops
// the background reaper, and so its calls.
func (s *Store) NotifyExpired(fn func(ctx context.Context, r session.IndexedRecord)) {
	if fn == nil {
		s.onExpired.Store(nil)
		return
	}
	s.onExpired.Store(&fn)
}

// notifyExpired hands recs to the NotifyExpired callback, if any.
func (s *Store) notifyExpired(ctx context.Context, recs []session.IndexedRecord) {
	if fn := s.onExpired.Load(); fn != nil {
		for _, r := range recs {
			(*fn)(ctx, r)
		}
	}
}
