package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sessionkit/session"
)

// valuesPerInsert bounds the rows of one multi-row INSERT of values.
const valuesPerInsert = 200

// Load implements [session.Store] with one SELECT: the session row joined
// with its values and its user's generation. A session that ended within
// its Linger reports its [session.Tombstone].
func (s *Store) Load(ctx context.Context, key string) (*session.Record, error) {
	const op = "load"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	var rec *session.Record
	scan := func(rows *sql.Rows) error {
		var err error
		rec, err = s.scanRecord(rows)
		return err
	}
	if s.d != SQLite {
		return rec, s.wrap(op, s.query(ctx, s.q.load, []any{key}, scan))
	}
	err := s.withConn(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, s.q.load, key)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scan(rows)
	})
	return rec, s.wrap(op, err)
}

// scanRecord reads the rows of the load query: the session's metadata on
// each, one value per row.
func (s *Store) scanRecord(rows *sql.Rows) (*session.Record, error) {
	var w row
	var rec *session.Record
	var name sql.NullString
	var val []byte
	dest := append(w.dest(), &name, &val)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		if rec == nil {
			if err := w.check(s.now().UnixNano()); err != nil {
				return nil, err
			}
			rec = &session.Record{Meta: w.meta(), Values: map[string][]byte{}}
		}
		if name.Valid {
			if val == nil {
				val = []byte{}
			}
			k, err := s.nameOf(name.String)
			if err != nil {
				return nil, err
			}
			rec.Values[k] = val
			val = nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, session.ErrNotFound
	}
	return rec, nil
}

// Create implements [session.Store]. It replaces whatever the key held
// (a tombstone included) and stamps the user's current generation; the
// user_id index makes the session part of its user's devices at once. A
// record whose Expires has passed is not stored: Create then deletes.
func (s *Store) Create(ctx context.Context, key string, r *session.Record) error {
	const op = "create"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return s.wrap(op, err)
	}
	if !s.now().Before(r.Expires) {
		return s.Delete(ctx, key)
	}
	if err := s.checkRecord(key, r.UserID, r.Values); err != nil {
		return s.wrap(op, err)
	}
	if err := s.checkFamily(r.Family); err != nil {
		return s.wrap(op, err)
	}
	return s.wrap(op, s.create(ctx, key, &r.Meta, r.Values))
}

// create stores a live record stamped with its user's current generation,
// replacing whatever key held: one statement on PostgreSQL, a transaction
// elsewhere. The generation is read without locking the user's row: a
// revocation landing meanwhile leaves the record with an older generation,
// that is revoked, never the other way round.
func (s *Store) create(ctx context.Context, key string, m *session.Meta, values map[string][]byte) error {
	if s.d == Postgres && len(values) <= valuesPerInsert {
		stmt, args := s.createPG(key, m, values)
		return s.mustCount(ctx, stmt, args)
	}
	if s.d == MySQL {
		return s.createMySQL(ctx, key, m, values)
	}
	return s.tx(ctx, func(q querier) error {
		var gen uint64
		if m.UserID != "" {
			var g int64
			err := q.QueryRowContext(ctx, s.q.userGen, s.userArg(m.UserID)).Scan(&g)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			gen = uint64(g)
		}
		return s.put(ctx, q, key, m, gen, values)
	})
}

// createPG is create as one PostgreSQL statement: the upsert of the row
// (its generation read by a subquery), the deletion of values the new
// record does not have, and the upsert of those it has.
func (s *Store) createPG(key string, m *session.Meta, values map[string][]byte) (string, []any) {
	args := s.recordArgs(key, m, 0)
	args = append(args[:2:2], args[3:]...) // the generation comes from a subquery on $2
	var b strings.Builder
	b.WriteString("WITH r AS (INSERT INTO session_records (" + recordCols + ") VALUES ($1, $2, " +
		"COALESCE((SELECT g.gen FROM session_users g WHERE g.user_id = $2), 0)")
	for i := 3; i <= len(args); i++ {
		fmt.Fprintf(&b, ", $%d", i)
	}
	b.WriteString(")" + s.q.upsertRecordTail + " RETURNING skey)")
	// No array parameter (lib/pq would need pq.Array): the names travel
	// as the rows of v.
	names := slices.Sorted(maps.Keys(values))
	if len(names) == 0 {
		b.WriteString(", d AS (DELETE FROM session_values WHERE skey IN (SELECT skey FROM r))")
	} else {
		b.WriteString(", v (name, val) AS (VALUES ")
		for i, k := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d::text, $%d::bytea)", len(args)+1, len(args)+2)
			v := values[k]
			if v == nil {
				v = []byte{}
			}
			args = append(args, s.nameArg(k), v)
		}
		b.WriteString("), d AS (DELETE FROM session_values WHERE skey IN (SELECT skey FROM r) AND name NOT IN (SELECT name FROM v))" +
			", i AS (INSERT INTO session_values (skey, name, val) SELECT r.skey, v.name, v.val FROM r CROSS JOIN v" +
			" ON CONFLICT (skey, name) DO UPDATE SET val = excluded.val)")
	}
	b.WriteString(" SELECT COUNT(*) FROM r")
	return b.String(), args
}

// put writes a live record and replaces its values.
func (s *Store) put(ctx context.Context, q querier, key string, m *session.Meta, gen uint64, values map[string][]byte) error {
	if _, err := q.ExecContext(ctx, s.q.upsertRecord, s.recordArgs(key, m, gen)...); err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, s.q.deleteValues, key); err != nil {
		return err
	}
	return s.setValues(ctx, q, key, values, false)
}

// setValues inserts values under key, replacing existing ones of the same
// name when upsert is set, in multi-row statements.
func (s *Store) setValues(ctx context.Context, q querier, key string, values map[string][]byte, upsert bool) error {
	if len(values) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(values)) // a fixed lock order between concurrent upserts
	for len(names) > 0 {
		n := min(len(names), valuesPerInsert)
		args := make([]any, 0, 3*n)
		for _, k := range names[:n] {
			v := values[k]
			if v == nil {
				v = []byte{}
			}
			args = append(args, key, s.nameArg(k), v)
		}
		stmt := "INSERT INTO session_values (skey, name, val) VALUES " + placeholders(3, n)
		if upsert {
			stmt += s.q.upsertValue
		}
		if _, err := q.ExecContext(ctx, s.d.rebind(stmt), args...); err != nil {
			return err
		}
		names = names[n:]
	}
	return nil
}

// deleteNames removes the named values of key.
func (s *Store) deleteNames(ctx context.Context, q querier, key string, names []string) error {
	for len(names) > 0 {
		n := min(len(names), valuesPerInsert)
		args := make([]any, 0, n+1)
		args = append(args, key)
		for _, k := range names[:n] {
			args = append(args, s.nameArg(k))
		}
		stmt := "DELETE FROM session_values WHERE skey = ? AND name IN (" + list(n) + ")"
		if _, err := q.ExecContext(ctx, s.d.rebind(stmt), args...); err != nil {
			return err
		}
		names = names[n:]
	}
	return nil
}

// checkRecord refuses what the schema cannot hold exactly.
func (s *Store) checkRecord(key, user string, values map[string][]byte) error {
	if err := s.checkLen("key", key); err != nil {
		return err
	}
	if err := s.checkLen("user ID", user); err != nil {
		return err
	}
	for k := range values {
		if err := s.checkLen("value name", k); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements [session.Store]: the row becomes an EndDestroyed
// tombstone for its Linger, holding no user, device or value.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "delete"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return s.wrap(op, err)
	}
	var err error
	switch s.d {
	case MySQL:
		err = s.endMySQL(ctx, key)
	case Postgres:
		_, err = s.db.ExecContext(ctx, `SELECT session_end($1::text, $2::smallint, $3::bigint)`, key, stateDestroyed, s.now().UnixNano())
	default:
		err = s.tx(ctx, func(q querier) error {
			return s.end(ctx, q, key, stateDestroyed, s.now().UnixNano(), "", nil, true)
		})
	}
	if err == nil {
		err = s.purgeCorrupt(ctx, key)
	}
	return s.wrap(op, err)
}

// purgeCorrupt removes the row under key, and its values, when its state
// is one the store cannot have written (Load reports it wrapping
// [session.ErrCorrupt]): ending it as a live row would leave it in place.
func (s *Store) purgeCorrupt(ctx context.Context, key string) error {
	q := `DELETE FROM session_records WHERE skey = ? AND (state < ? OR state > ? OR gen < 0 OR linger_ns < 0)`
	if s.d == Postgres {
		q = `DELETE FROM session_records WHERE skey = $1 AND (state < $2 OR state > $3 OR gen < 0 OR linger_ns < 0)`
	}
	n, err := affected(s.db.ExecContext(ctx, q, key, stateLive, stateRevoked))
	if err != nil || n == 0 {
		return err
	}
	q = `DELETE FROM session_values WHERE skey = ?`
	if s.d == Postgres {
		q = `DELETE FROM session_values WHERE skey = $1`
	}
	_, err = s.db.ExecContext(ctx, q, key)
	return err
}

// end turns the live row under key into a tombstone of state, dated at,
// whose family is family (nil: the row's own), and deletes its values when
// dropValues is set (a renewal moved them).
func (s *Store) end(ctx context.Context, q querier, key string, state int, at int64, next string, family any, dropValues bool) error {
	n, err := affected(q.ExecContext(ctx, s.q.endOne, state, at, at, next, s.userArg(""), family, key))
	if err != nil || n == 0 || !dropValues {
		return err
	}
	_, err = q.ExecContext(ctx, s.q.deleteValues, key)
	return err
}

// nameEscape starts a value name stored hex-encoded on PostgreSQL.
const nameEscape = "\x01"

// nameArg is a value name as a query argument. PostgreSQL's TEXT holds
// neither NUL nor invalid UTF-8 (and SealValues' reserved names contain
// NUL): there such a name, and any name starting with nameEscape, is
// stored as nameEscape and the name's hex, so that stored names map one
// to one onto names. Other dialects store names as they are.
func (s *Store) nameArg(k string) string {
	if s.d != Postgres || (utf8.ValidString(k) && !strings.ContainsRune(k, 0) && !strings.HasPrefix(k, nameEscape)) {
		return k
	}
	return nameEscape + hex.EncodeToString([]byte(k))
}

// nameOf is the inverse of nameArg.
func (s *Store) nameOf(stored string) (string, error) {
	if s.d != Postgres || !strings.HasPrefix(stored, nameEscape) {
		return stored, nil
	}
	b, err := hex.DecodeString(stored[len(nameEscape):])
	if err != nil {
		return "", corruptRow("value name")
	}
	return string(b), nil
}
