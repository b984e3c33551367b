package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/sessionkit/session"
)

// UserSessions implements [session.UserIndex]: one SELECT on the user_id
// index of the live, unexpired sessions of the user's current generation.
// Ended sessions leave the index with their row (a tombstone holds no
// user), so there is nothing to prune.
func (s *Store) UserSessions(ctx context.Context, userID string) ([]session.IndexedRecord, error) {
	const op = "user sessions"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	var out []session.IndexedRecord
	if s.d != SQLite {
		err := s.query(ctx, s.q.listUser, []any{s.userArg(userID), s.now().UnixNano()}, func(rows *sql.Rows) error {
			var err error
			out, err = scanLive(rows)
			return err
		})
		return out, s.wrap(op, err)
	}
	err := s.withConn(ctx, func(q querier) error {
		var err error
		out, err = s.live(ctx, q, userID)
		return err
	})
	return out, s.wrap(op, err)
}

// live lists the live sessions of user.
func (s *Store) live(ctx context.Context, q querier, user string) ([]session.IndexedRecord, error) {
	rows, err := q.QueryContext(ctx, s.q.listUser, s.userArg(user), s.now().UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanLive(rows)
}

// scanLive reads the rows of the listUser query.
func scanLive(rows *sql.Rows) ([]session.IndexedRecord, error) {
	var out []session.IndexedRecord
	for rows.Next() {
		var key string
		var w row
		if err := rows.Scan(append([]any{&key}, w.dest()[:nMeta]...)...); err != nil {
			return nil, err
		}
		out = append(out, session.IndexedRecord{Key: key, Meta: w.meta()})
	}
	return out, rows.Err()
}

// RevokeUser implements [session.UserIndex]: in one transaction it bumps
// the user's generation, so that every earlier session of the user is
// unloadable at once, and turns the user's live rows into EndRevoked
// tombstones. Sessions created afterwards carry the new generation.
func (s *Store) RevokeUser(ctx context.Context, userID string) error {
	const op = "revoke user"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return s.wrap(op, err)
	}
	if err := s.checkLen("user ID", userID); err != nil {
		return s.wrap(op, err)
	}
	return s.wrap(op, s.tx(ctx, func(q querier) error {
		gen, err := s.lockUser(ctx, q, userID, true)
		if err != nil {
			return err
		}
		return s.revoke(ctx, q, userID, gen, "")
	}))
}

// lockUser takes the row lock of the user's generation (creating it at 0),
// bumping it first when bump is set, and returns the generation. Renewals
// and revocations of one user take it first, so they are serialized and
// never deadlock with each other.
func (s *Store) lockUser(ctx context.Context, q querier, user string, bump bool) (int64, error) {
	stmt := s.q.lockUser
	if bump {
		stmt = s.q.lockUserBump
	}
	u := s.userArg(user)
	var gen int64
	if s.d == MySQL {
		res, err := q.ExecContext(ctx, stmt, u)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		if n == 1 { // inserted: the value of VALUES
			if bump {
				return 1, nil
			}
			return 0, nil
		}
		// 2 (updated) or 0 (unchanged): LAST_INSERT_ID(gen)
		if gen, err = res.LastInsertId(); err != nil {
			return 0, err
		}
	} else if err := q.QueryRowContext(ctx, stmt, u).Scan(&gen); err != nil {
		return 0, err
	}
	if gen < 0 {
		return 0, errors.New("corrupt generation in session_users")
	}
	return gen, nil
}

// revoke ends the live sessions of user older than gen, except keep,
// taking the rows' locks before touching their values, as every other
// write does (values first deadlocked with a logout or a write holding a
// row, and let a write slip values in under the tombstone).
func (s *Store) revoke(ctx context.Context, q querier, user string, gen int64, keep string) error {
	u := s.userArg(user)
	switch s.d {
	case MySQL:
		return s.revokeByKey(ctx, q, u, gen, keep)
	case Postgres:
		rows, err := q.QueryContext(ctx, s.q.lockRevoked, u, gen, keep)
		if err != nil {
			return err
		}
		for rows.Next() { // every row read is locked
		}
		if err := rows.Close(); err != nil {
			return err
		}
	}
	if _, err := q.ExecContext(ctx, s.q.revokeValues, u, gen, keep); err != nil {
		return err
	}
	now := s.now().UnixNano()
	_, err := q.ExecContext(ctx, s.q.revokeRecords, stateRevoked, now, now, s.userArg(""), u, gen, keep)
	return err
}

// revokeByKey is revoke on InnoDB, which locks a secondary index entry
// before its row: a locking scan of the user_id index against a logout
// that holds the row and then updates the index deadlocks. The keys are
// read without locking, then each row is ended through its primary key
// while still live and older than gen. A session the read missed (created
// meanwhile with the old generation) is revoked all the same by the
// generation check of every read; only its row waits for the reaper.
func (s *Store) revokeByKey(ctx context.Context, q querier, u any, gen int64, keep string) error {
	rows, err := q.QueryContext(ctx, `SELECT skey FROM session_records WHERE user_id = ? AND state = 0 AND gen < ? AND skey <> ?`, u, gen, keep)
	if err != nil {
		return err
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return err
		}
		keys = append(keys, k)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	slices.Sort(keys) // one lock order between revokers
	now := s.now().UnixNano()
	for len(keys) > 0 {
		n := min(len(keys), valuesPerInsert)
		args := []any{stateRevoked, now, now, ""}
		for _, k := range keys[:n] {
			args = append(args, k)
		}
		in := list(n)
		if _, err := q.ExecContext(ctx, `UPDATE session_records SET state = ?, ended_ns = ?, purge_ns = ? + linger_ns,
 next_key = '', user_id = ?, user_agent = '', ip = '', ver = ver + 1 WHERE skey IN (`+in+`) AND state = 0 AND gen < ?`,
			append(args, gen)...); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `DELETE FROM session_values WHERE skey IN (`+in+`)`, args[4:]...); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// Rotate implements [session.Rotator] as one transaction, following the
// steps of [session.Rotation]: it locks the user's generation row (bumping
// it for RevokeUser), then the old row, checks that the old row is live and
// current, revokes, applies the cap by the same rule as the memory and
// Redis stores (the least recently seen sessions other than OldKey go
// first), writes the new row, moves the old values to it and applies the
// delta, and leaves an EndRotated tombstone pointing to NewKey.
func (s *Store) Rotate(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	const op = "rotate"
	ctx, cancel := s.bound(ctx)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return nil, s.wrap(op, err)
	}
	if err := s.checkRecord(rot.NewKey, rot.Meta.UserID, rot.Delta.Set); err != nil {
		return nil, s.wrap(op, err)
	}
	if err := s.checkFamily(rot.Meta.Family); err != nil {
		return nil, s.wrap(op, err)
	}
	if rot.OldKey == "" && rot.MaxSessions <= 0 && !rot.RevokeUser {
		// A new session with no cap and no revocation: nothing to check or
		// lock, the write of the record is the whole renewal.
		r := rot.NewRecord(nil)
		return nil, s.wrap(op, s.create(ctx, rot.NewKey, &r.Meta, r.Values))
	}
	switch s.d {
	case Postgres:
		evicted, err := s.rotatePG(ctx, rot)
		return evicted, s.wrap(op, err)
	case MySQL:
		evicted, err := s.rotateMySQL(ctx, rot)
		return evicted, s.wrap(op, err)
	}
	var evicted []session.IndexedRecord
	err := s.tx(ctx, func(q querier) error {
		evicted = nil
		var err error
		evicted, err = s.rotate(ctx, q, rot)
		return err
	})
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return evicted, nil
}

func (s *Store) rotate(ctx context.Context, q querier, rot *session.Rotation) ([]session.IndexedRecord, error) {
	now := s.now().UnixNano()
	user := rot.Meta.UserID
	var gen, prevGen int64
	if user != "" {
		var err error
		if gen, err = s.lockUser(ctx, q, user, rot.RevokeUser); err != nil {
			return nil, err
		}
		prevGen = gen
		if rot.RevokeUser {
			prevGen = gen - 1 // the old row is judged as before this revocation
		}
	}

	var old *row
	alive := true
	if rot.OldKey != "" {
		w := &row{}
		err := q.QueryRowContext(ctx, s.q.lockOld, rot.OldKey).Scan(w.dest()...)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			alive = false
		case err != nil:
			return nil, err
		default:
			if user != "" && string(w.user) == user {
				w.cur = prevGen
			}
			if err := w.check(now); err != nil {
				if !errors.Is(err, session.ErrNotFound) {
					return nil, err
				}
				alive = false
			} else {
				old = w
			}
		}
	}
	if rot.RevokeUser && user != "" {
		if err := s.revoke(ctx, q, user, gen, rot.OldKey); err != nil {
			return nil, err
		}
	}
	refuse := func(err error) error {
		if rot.RevokeUser && user != "" {
			return &commitThen{err} // the revocation stands
		}
		return err
	}
	if !alive {
		return nil, refuse(session.ErrNotFound)
	}

	var victims []session.IndexedRecord
	if user != "" && rot.MaxSessions > 0 {
		live, err := s.live(ctx, q, user)
		if err != nil {
			return nil, err
		}
		if victims, err = rot.Victims(live); err != nil {
			return nil, refuse(err)
		}
		for _, v := range victims {
			if err := s.end(ctx, q, v.Key, stateDestroyed, now, "", nil, true); err != nil {
				return nil, err
			}
		}
	}

	var oldRec *session.Record
	if old != nil {
		oldRec = &session.Record{Meta: old.meta()}
	}
	m := rot.NewRecord(oldRec).Meta // the values move in SQL below
	newGen := gen
	if old != nil && string(old.user) == user && !rot.RevokeUser {
		newGen = old.gen
	}
	d := &rot.Delta
	// NewKey is the hash of a fresh 256-bit token: no row, and so no
	// values, can be under it; the upsert covers the impossible case.
	if _, err := q.ExecContext(ctx, s.q.upsertRecord, s.recordArgs(rot.NewKey, &m, uint64(newGen))...); err != nil {
		return nil, err
	}
	moved := old != nil && !d.Clear
	if moved {
		if _, err := q.ExecContext(ctx, s.q.moveValues, rot.NewKey, rot.OldKey); err != nil {
			return nil, err
		}
		if err := s.deleteNames(ctx, q, rot.NewKey, d.Delete); err != nil {
			return nil, err
		}
	}
	if err := s.setValues(ctx, q, rot.NewKey, d.Set, true); err != nil {
		return nil, err
	}
	if old != nil {
		// The tombstone carries the renewed session's family (step 5).
		family := familyOf(rot.NewKey, rot.Meta.Family)
		if err := s.end(ctx, q, rot.OldKey, stateRotated, ns(rot.Meta.LastSeen), rot.NewKey, family, !moved); err != nil {
			return nil, err
		}
	}
	return victims, nil
}
