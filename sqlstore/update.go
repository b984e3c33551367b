package sqlstore

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sessionkit/session"
)

// Update implements [session.Store]. One conditional UPDATE both checks
// that the row is live, unexpired and of its user's current generation and
// locks it (writing only the metadata d carries); the value changes follow
// in the same transaction. A delta that changes only metadata (the
// throttled touch) is that one statement. When the row is not live, nothing
// is written and the error wraps ErrNotFound.
//
// A call whose ctx ends while the server is still waiting (for a row lock)
// returns at once with an error. What it asked may still be applied, whole,
// when the server gets to it, as with any remote store: PostgreSQL runs its
// single statements, and MySQL its procedures, to the end; only a SQLite
// transaction the client abandoned never commits.
func (s *Store) Update(ctx context.Context, key string, d *session.Delta) error {
	const op = "update"
	if err := ctx.Err(); err != nil {
		return s.wrap(op, err)
	}
	if err := s.checkRecord(key, "", d.Set); err != nil {
		return s.wrap(op, err)
	}
	if s.d == MySQL {
		return s.wrap(op, s.updateMySQL(ctx, key, d))
	}
	stmt, args := s.updateMeta(key, d)
	if s.d == Postgres && !d.Clear && len(d.Delete) == 0 && len(d.Set) > 0 && len(d.Set) <= valuesPerInsert {
		stmt, args = s.updateSetPG(stmt, args, d.Set)
		return s.wrap(op, s.mustCount(ctx, stmt, args))
	}
	if !d.Clear && len(d.Set) == 0 && len(d.Delete) == 0 {
		err := s.writeConn(ctx, func(q querier) error { return s.mustTouch(ctx, q, stmt, args) })
		return s.wrap(op, err)
	}
	return s.wrap(op, s.tx(ctx, func(q querier) error {
		if err := s.mustTouch(ctx, q, stmt, args); err != nil {
			return err
		}
		if d.Clear {
			if _, err := q.ExecContext(ctx, s.q.deleteValues, key); err != nil {
				return err
			}
		} else if err := s.deleteNames(ctx, q, key, d.Delete); err != nil {
			return err
		}
		return s.setValues(ctx, q, key, d.Set, true)
	}))
}

// mustTouch runs the conditional UPDATE of Update and reports ErrNotFound
// when it matched no live row.
func (s *Store) mustTouch(ctx context.Context, q querier, stmt string, args []any) error {
	n, err := affected(q.ExecContext(ctx, stmt, args...))
	if err != nil {
		return err
	}
	if n == 0 {
		return session.ErrNotFound
	}
	return nil
}

// updateSetPG extends Update's conditional UPDATE (already rebound) into
// one PostgreSQL statement that also upserts the values, in the same
// atomic step: the INSERT reads the updated row, so it runs only when the
// UPDATE matched and locked a live row. Only for deltas that set values
// and delete none: a DELETE in the same statement would see the
// statement's snapshot, not the rows a concurrent request committed while
// this one waited for the row lock.
func (s *Store) updateSetPG(update string, args []any, set map[string][]byte) (string, []any) {
	var b strings.Builder
	b.WriteString("WITH r AS (" + update + " RETURNING skey), i AS (INSERT INTO session_values (skey, name, val) SELECT r.skey, v.name, v.val FROM r CROSS JOIN (VALUES ")
	n := len(args)
	for i, k := range slices.Sorted(maps.Keys(set)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "($%d::text, $%d::bytea)", n+1, n+2)
		n += 2
		v := set[k]
		if v == nil {
			v = []byte{}
		}
		args = append(args, s.nameArg(k), v)
	}
	b.WriteString(") AS v(name, val) ON CONFLICT (skey, name) DO UPDATE SET val = excluded.val) SELECT COUNT(*) FROM r")
	return b.String(), args
}

// mustCount runs a statement that returns the number of live rows it
// changed, and reports ErrNotFound when it is zero.
func (s *Store) mustCount(ctx context.Context, stmt string, args []any) error {
	var n int64
	if err := s.db.QueryRowContext(ctx, stmt, args...).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return session.ErrNotFound
	}
	return nil
}

// updateMeta builds Update's conditional UPDATE. ver always changes, so
// MySQL (which counts changed rows) reports the match.
func (s *Store) updateMeta(key string, d *session.Delta) (string, []any) {
	var b strings.Builder
	var args []any
	b.WriteString("UPDATE session_records SET ver = ver + 1")
	set := func(col string, v any) {
		b.WriteString(", " + col + " = ?")
		args = append(args, v)
	}
	if !d.LastSeen.IsZero() {
		set("seen_ns", ns(d.LastSeen))
	}
	if !d.Expires.IsZero() {
		set("expires_ns", ns(d.Expires))
	}
	if d.Persist != nil {
		p := 0
		if *d.Persist {
			p = 1
		}
		set("persist", p)
	}
	if t := d.Timeouts; t != nil {
		set("idle_ns", int64(t.Idle))
		set("absolute_ns", int64(t.Absolute))
		set("linger_ns", int64(t.Linger))
	}
	// purge_ns = expires + linger, from the new values only (MySQL
	// evaluates SET left to right, PostgreSQL from the old row).
	switch {
	case !d.Expires.IsZero() && d.Timeouts != nil:
		set("purge_ns", ns(d.Expires)+int64(max(d.Timeouts.Linger, 0)))
	case !d.Expires.IsZero():
		b.WriteString(", purge_ns = ? + linger_ns")
		args = append(args, ns(d.Expires))
	case d.Timeouts != nil:
		b.WriteString(", purge_ns = expires_ns + ?")
		args = append(args, int64(max(d.Timeouts.Linger, 0)))
	}
	b.WriteString(" WHERE skey = ? AND state = 0 AND expires_ns > ? AND gen >= " +
		"COALESCE((SELECT g.gen FROM session_users g WHERE g.user_id = session_records.user_id), 0) AND created_ns >= " + cutoffOf)
	args = append(args, key, s.now().UnixNano())
	return s.d.rebind(b.String()), args
}

// writeConn runs a single-statement write: on the pool, or for SQLite on a
// connection behind the store's write lock.
func (s *Store) writeConn(ctx context.Context, fn func(q querier) error) error {
	if s.d != SQLite {
		return fn(s.db)
	}
	select {
	case s.wlock <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.wlock }()
	return s.withConn(ctx, fn)
}
