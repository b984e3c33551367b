package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/sessionkit/session"
)

// Family implements [session.Rotator] with one SELECT: the live row of
// the family, found through the family index (a renewed session, a header
// session) or by its primary key (a session never renewed, whose family
// is its own key), joined with its values, and judged live exactly as
// Load judges a row (unexpired, not ended, of its user's current
// generation, not before RevokeAll's cutoff). It never walks renewal
// tombstones: the cost is the same after one renewal or a thousand.
//
// A family has one live row, unless a caller wrote two records of one
// family with Create; then the one seen last is returned.
func (s *Store) Family(ctx context.Context, family string) (string, *session.Record, error) {
	const op = "family"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return "", nil, s.wrap(op, err)
	}
	if !s.familyFits(family) {
		return "", nil, s.wrap(op, session.ErrNotFound)
	}
	var key string
	var rec *session.Record
	scan := func(rows *sql.Rows) error {
		var err error
		key, rec, err = s.scanFamily(rows)
		return err
	}
	args := []any{family, family}
	if s.d != SQLite {
		err := s.query(ctx, s.q.family, args, scan)
		return key, rec, s.wrap(op, err)
	}
	err := s.withConn(ctx, func(q querier) error {
		rows, err := q.QueryContext(ctx, s.q.family, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return scan(rows)
	})
	return key, rec, s.wrap(op, err)
}

// familyFits reports whether family can name a family at all: not empty
// (no record has the family ""), and one the schema can hold (checkFamily):
// no record has any other, and the query would fail, or on MySQL cut it
// to another family.
func (s *Store) familyFits(family string) bool {
	return family != "" && s.checkFamily(family) == nil
}

// checkFamily refuses a family the schema cannot hold: on MySQL one longer
// than 255 bytes (ErrTooLong), on PostgreSQL one that is not UTF-8 text
// without NUL, as its TEXT column (like the key's) requires. The
// Manager's families are base64url.
func (s *Store) checkFamily(family string) error {
	if s.d == Postgres && (!utf8.ValidString(family) || strings.ContainsRune(family, 0)) {
		return errors.New("family is not UTF-8 text without NUL (the PostgreSQL schema's TEXT)")
	}
	return s.checkLen("family", family)
}

// scanFamily reads the rows of the family query (one per value of each
// candidate row) and returns the live record among them, or ErrNotFound.
func (s *Store) scanFamily(rows *sql.Rows) (string, *session.Record, error) {
	type candidate struct {
		rec  *session.Record
		seen int64
		err  error
	}
	byKey := map[string]*candidate{}
	now := s.now().UnixNano()
	var key string
	var w row
	var name sql.NullString
	var val []byte
	dest := append(append([]any{&key}, w.dest()...), &name, &val)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return "", nil, err
		}
		c := byKey[key]
		if c == nil {
			c = &candidate{seen: w.seen, err: w.check(now)}
			if c.err == nil {
				c.rec = &session.Record{Meta: w.meta(), Values: map[string][]byte{}}
			}
			byKey[key] = c
		}
		if c.rec == nil || !name.Valid {
			val = nil
			continue
		}
		if val == nil {
			val = []byte{}
		}
		k, err := s.nameOf(name.String)
		if err != nil {
			return "", nil, err
		}
		c.rec.Values[k] = val
		val = nil
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	var bestKey string
	var best *candidate
	for k, c := range byKey {
		if c.err != nil {
			if !errors.Is(c.err, session.ErrNotFound) {
				return "", nil, c.err // a corrupt row
			}
			continue
		}
		if best == nil || c.seen > best.seen || (c.seen == best.seen && k > bestKey) {
			bestKey, best = k, c
		}
	}
	if best == nil {
		return "", nil, session.ErrNotFound
	}
	return bestKey, best.rec, nil
}

// EndFamily implements [session.Rotator]: it ends the family's live row
// exactly as Delete does (an EndDestroyed tombstone for its Linger,
// holding no user, device or value; the user_id index no longer lists
// it) and returns its key and metadata, or an error wrapping ErrNotFound,
// writing nothing, when the family has no live row. It is one round trip
// on PostgreSQL (session_end_family) and MySQL (session_end_family_v1),
// one transaction on SQLite.
//
// It is atomic with Rotate: it locks the row it ends, and looks again
// whenever the row it waited for was renewed meanwhile, so a renewal of
// the family either commits first and its new row is the one ended, or
// comes after and fails with ErrNotFound (its old row is a tombstone).
// The family has no live row afterwards, and never gets one again: every
// renewal starts from a live row.
func (s *Store) EndFamily(ctx context.Context, family string) (*session.IndexedRecord, error) {
	const op = "end family"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	if !s.familyFits(family) {
		return nil, s.wrap(op, session.ErrNotFound)
	}
	var ended []session.IndexedRecord
	var err error
	switch s.d {
	case Postgres:
		ended, err = s.endFamilyPG(ctx, family)
	case MySQL:
		var js []byte
		if err = s.queryRow(ctx, callEndFamilyMySQL, []any{family, s.now().UnixNano()}, &js); err == nil {
			ended, err = parseEnded(js)
		}
	default:
		err = s.tx(ctx, func(q querier) error {
			var err error
			ended, err = s.endFamily(ctx, q, family)
			return err
		})
	}
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if len(ended) == 0 {
		return nil, s.wrap(op, session.ErrNotFound)
	}
	// Normally one; with several (two records of the family written by
	// Create), the one seen last is the family's session.
	last := &ended[0]
	for i := range ended[1:] {
		if e := &ended[i+1]; e.Meta.LastSeen.After(last.Meta.LastSeen) {
			last = e
		}
	}
	return last, nil
}

// endFamily is EndFamily in a SQLite transaction, which holds the
// database's write lock from its start: no renewal runs meanwhile, so the
// rows read are the rows ended.
func (s *Store) endFamily(ctx context.Context, q querier, family string) ([]session.IndexedRecord, error) {
	rows, err := q.QueryContext(ctx, s.q.lockFamily, family, family)
	if err != nil {
		return nil, err
	}
	now := s.now().UnixNano()
	var live []session.IndexedRecord
	for rows.Next() {
		var key string
		var w row
		if err := rows.Scan(append([]any{&key}, w.dest()...)...); err != nil {
			rows.Close()
			return nil, err
		}
		if err := w.check(now); err != nil {
			if !errors.Is(err, session.ErrNotFound) {
				rows.Close()
				return nil, err
			}
			continue // not live (as Load judges it): left alone
		}
		live = append(live, session.IndexedRecord{Key: key, Meta: w.meta()})
	}
	err = rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	for _, r := range live {
		if err := s.end(ctx, q, r.Key, stateDestroyed, now, "", nil, true); err != nil {
			return nil, err
		}
	}
	return live, nil
}
