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
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return s.wrap(op, err)
	}
	if err := s.checkRecord(key, "", d.Set); err != nil {
		return s.wrap(op, err)
	}
	if s.d == MySQL {
		return s.wrap(op, s.updateMySQL(ctx, key, d))
	}
	if s.d == Postgres && !d.Clear && len(d.Delete) == 0 && len(d.Set) > 0 && len(d.Set) <= valuesPerInsert {
		return s.wrap(op, s.updateSetPG(ctx, key, d))
	}
	stmt, args := s.updateMeta(key, d)
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

// updateSetPG is Update for a delta that sets values and deletes none, as
// one PostgreSQL statement: Update's conditional UPDATE, RETURNING the key
// of the live row it matched and locked, feeds the values upsert in the
// same atomic step, so the INSERT writes only when the row is live. The
// statement counts the values it wrote: none means the session was not
// live. Not for deletions: a DELETE in the same statement would see the
// statement's snapshot, not the rows a concurrent request committed while
// this one waited for the row lock.
func (s *Store) updateSetPG(ctx context.Context, key string, d *session.Delta) error {
	names := slices.Sorted(maps.Keys(d.Set))
	sh := shapeOf(d)
	sh.values = len(names)
	args := s.updateArgs(key, d, 2*len(names))
	for _, k := range names {
		v := d.Set[k]
		if v == nil {
			v = []byte{}
		}
		args = append(args, s.nameArg(k), v)
	}
	stmt := s.text(sh, func() string {
		var b strings.Builder
		b.WriteString("WITH r AS (" + s.updateText(sh) + " RETURNING skey) INSERT INTO session_values (skey, name, val)" +
			" SELECT r.skey, v.name, v.val FROM r CROSS JOIN (VALUES ")
		n := len(args) - 2*len(names)
		for i := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d::text, $%d::bytea)", n+2*i+1, n+2*i+2)
		}
		b.WriteString(") AS v(name, val) ON CONFLICT (skey, name) DO UPDATE SET val = excluded.val")
		return b.String()
	})
	n, err := affected(s.db.ExecContext(ctx, stmt, args...))
	if err != nil {
		return err
	}
	if n == 0 {
		return session.ErrNotFound
	}
	return nil
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

// shape is what the text of an Update statement depends on: which
// metadata the delta carries and how many values it sets (PostgreSQL's
// one-statement form). Statements are built once per shape (Store.text).
type shape struct {
	seen, expires, persist, timeouts bool
	values                           int
}

func shapeOf(d *session.Delta) shape {
	return shape{seen: !d.LastSeen.IsZero(), expires: !d.Expires.IsZero(), persist: d.Persist != nil, timeouts: d.Timeouts != nil}
}

// text returns the statement of shape sh, building it the first time.
func (s *Store) text(sh shape, build func() string) string {
	if t, ok := s.texts.Load(sh); ok {
		return t.(string)
	}
	t, _ := s.texts.LoadOrStore(sh, build())
	return t.(string)
}

// updateMeta returns Update's conditional UPDATE and its arguments.
func (s *Store) updateMeta(key string, d *session.Delta) (string, []any) {
	sh := shapeOf(d)
	return s.text(sh, func() string { return s.updateText(sh) }), s.updateArgs(key, d, 0)
}

// updateText builds the text of Update's conditional UPDATE for sh,
// rebound for the dialect. ver always changes, so MySQL (which counts
// changed rows) reports the match.
func (s *Store) updateText(sh shape) string {
	var b strings.Builder
	b.WriteString("UPDATE session_records SET ver = ver + 1")
	if sh.seen {
		b.WriteString(", seen_ns = ?")
	}
	if sh.expires {
		b.WriteString(", expires_ns = ?")
	}
	if sh.persist {
		b.WriteString(", persist = ?")
	}
	if sh.timeouts {
		b.WriteString(", idle_ns = ?, absolute_ns = ?, linger_ns = ?")
	}
	// purge_ns moves to expires + linger (from the new values only: MySQL
	// evaluates SET left to right, PostgreSQL from the old row) plus
	// purgeSlack, and only when it would otherwise fall short of it: an
	// active session's every write slides its expiry, and an indexed
	// column that changed makes the UPDATE rewrite every index of the row
	// (no HOT update on PostgreSQL; a secondary index entry moved on
	// InnoDB). A purge time that stays put leaves them alone.
	var purge string
	switch {
	case sh.expires && sh.timeouts:
		purge = "?"
	case sh.expires:
		purge = "? + linger_ns"
	case sh.timeouts:
		purge = "expires_ns + ?"
	}
	if purge != "" {
		fmt.Fprintf(&b, ", purge_ns = CASE WHEN purge_ns >= %[1]s THEN purge_ns ELSE %[1]s + %[2]d END", purge, int64(purgeSlack))
	}
	b.WriteString(" WHERE skey = ? AND state = 0 AND expires_ns > ? AND gen >= " +
		"COALESCE((SELECT g.gen FROM session_users g WHERE g.user_id = session_records.user_id), 0) AND created_ns >= " + cutoffOf)
	return s.d.rebind(b.String())
}

// updateArgs returns the arguments of updateText for d, in its order, with
// room for extra more.
func (s *Store) updateArgs(key string, d *session.Delta, extra int) []any {
	args := make([]any, 0, 11+extra)
	if !d.LastSeen.IsZero() {
		args = append(args, ns(d.LastSeen))
	}
	if !d.Expires.IsZero() {
		args = append(args, ns(d.Expires))
	}
	if d.Persist != nil {
		args = append(args, boolInt(*d.Persist))
	}
	if t := d.Timeouts; t != nil {
		args = append(args, int64(t.Idle), int64(t.Absolute), lingerNs(t.Linger))
	}
	// Twice: the purge expression compares and assigns (updateText).
	switch {
	case !d.Expires.IsZero() && d.Timeouts != nil:
		p := ns(d.Expires) + lingerNs(d.Timeouts.Linger)
		args = append(args, p, p)
	case !d.Expires.IsZero():
		args = append(args, ns(d.Expires), ns(d.Expires))
	case d.Timeouts != nil:
		l := lingerNs(d.Timeouts.Linger)
		args = append(args, l, l)
	}
	return append(args, key, s.now().UnixNano())
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
