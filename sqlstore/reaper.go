package sqlstore

import (
	"context"
	"time"
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
func (s *Store) Reap(ctx context.Context) (int64, error) {
	const op = "reap"
	var total int64
	for {
		n, listed, err := s.reapBatchOnce(ctx)
		total += n
		if err != nil {
			return total, s.wrap(op, err)
		}
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
// values, and returns how many rows it deleted and how many it found.
func (s *Store) reapBatchOnce(ctx context.Context) (deleted int64, listed int, err error) {
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
		return 0, 0, err
	}
	var n int64
	err = s.tx(ctx, func(q querier) error {
		// The purge time is checked again: a Create may have replaced a
		// row since it was listed.
		args := append(append([]any{}, keys...), now)
		var err error
		n, err = affected(q.ExecContext(ctx, s.d.rebind(`DELETE FROM session_records WHERE skey IN (`+list(len(keys))+`) AND purge_ns <= ?`), args...))
		if err != nil {
			return err
		}
		_, err = q.ExecContext(ctx, s.d.rebind(`DELETE FROM session_values WHERE skey IN (`+list(len(keys))+`)
 AND NOT EXISTS (SELECT 1 FROM session_records r WHERE r.skey = session_values.skey)`), keys...)
		return err
	})
	return n, len(keys), err
}
