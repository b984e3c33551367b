package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"maps"
	"slices"
	"strings"

	"github.com/sessionkit/session"
)

// rotateFunctionPG is Rotate on PostgreSQL as one server-side function, so
// that a renewal is one round trip. It follows the transaction of
// Store.rotate statement for statement; being VOLATILE, each of its
// statements sees the rows committed before it (READ COMMITTED), after the
// locks it waited for. Rows: status 3 for each evicted session, then one
// row of status 0 (done), 1 (old key not live and current) or 2 (the cap
// refuses). p_family is the renewed session's family (never empty): the
// new row's family column (NULL when it is p_new) and its tombstone's.
const rotateFunctionPG = `CREATE OR REPLACE FUNCTION session_rotate(
  p_old text, p_new text, p_user bytea, p_revoke boolean, p_max integer, p_refuse boolean, p_now bigint,
  p_created bigint, p_seen bigint, p_auth bigint, p_ua text, p_ip text, p_expires bigint, p_linger bigint,
  p_clear boolean, p_persist smallint, p_touts boolean, p_tidle bigint, p_tabs bigint, p_tlinger bigint,
  p_del text[], p_names text[], p_vals bytea[], p_family text, p_methods text)
RETURNS TABLE (status integer, ekey text, euser bytea, egen bigint, ecreated bigint, eseen bigint, eauth bigint,
  eua text, eip text, eidle bigint, eabs bigint, epersist smallint, elinger bigint, eexpires bigint, efamily text)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  g bigint := 0; prev bigint := 0; cur bigint := 0;
  cut bigint := COALESCE((SELECT c.cutoff_ns FROM session_cutoff c WHERE c.id = 1), 0);
  o session_records%ROWTYPE; has_old boolean := false; alive boolean := true;
  cnt bigint; excess bigint; vic record;
  s_idle bigint := 0; s_abs bigint := 0; s_persist smallint := 0; s_linger bigint := p_linger; newgen bigint;
BEGIN
  IF p_user <> ''::bytea THEN
    IF p_revoke THEN
      INSERT INTO session_users AS u (user_id, gen) VALUES (p_user, 1)
        ON CONFLICT (user_id) DO UPDATE SET gen = u.gen + 1 RETURNING u.gen INTO g;
      prev := g - 1;
    ELSE
      INSERT INTO session_users AS u (user_id, gen) VALUES (p_user, 0)
        ON CONFLICT (user_id) DO UPDATE SET gen = u.gen RETURNING u.gen INTO g;
      prev := g;
    END IF;
  END IF;
  IF p_old <> '' THEN
    SELECT * INTO o FROM session_records r WHERE r.skey = p_old FOR UPDATE;
    IF NOT FOUND THEN
      alive := false;
    ELSE
      IF o.state < 0 OR o.state > 3 OR o.gen < 0 OR o.linger_ns < 0 THEN
        RAISE EXCEPTION 'corrupt state in session_records';
      END IF;
      IF p_user <> ''::bytea AND o.user_id = p_user THEN
        cur := prev;
      ELSE
        cur := COALESCE((SELECT x.gen FROM session_users x WHERE x.user_id = o.user_id), 0);
      END IF;
      IF o.state <> 0 OR p_now >= o.expires_ns OR (o.user_id <> ''::bytea AND o.gen < cur) OR o.created_ns < cut THEN
        alive := false;
      ELSE
        has_old := true;
      END IF;
    END IF;
  END IF;
  IF p_revoke AND p_user <> ''::bytea THEN
    -- Rows before values, as every write: see Store.revoke.
    PERFORM 1 FROM session_records r WHERE r.user_id = p_user AND r.state = 0 AND r.gen < g AND r.skey <> p_old
      FOR UPDATE;
    DELETE FROM session_values sv WHERE sv.skey IN (SELECT r.skey FROM session_records r
      WHERE r.user_id = p_user AND r.state = 0 AND r.gen < g AND r.skey <> p_old);
    UPDATE session_records r SET state = 3, ended_ns = p_now, purge_ns = p_now + r.linger_ns, next_key = '',
      user_id = ''::bytea, user_agent = '', ip = '', ver = r.ver + 1
      WHERE r.user_id = p_user AND r.state = 0 AND r.gen < g AND r.skey <> p_old;
  END IF;
  IF NOT alive THEN
    status := 1; RETURN NEXT; RETURN;
  END IF;
  IF p_user <> ''::bytea AND p_max > 0 THEN
    SELECT count(*) INTO cnt FROM session_records r WHERE r.user_id = p_user AND r.state = 0
      AND r.expires_ns > p_now AND r.gen >= g AND r.created_ns >= cut AND r.skey <> p_old;
    excess := cnt - p_max + 1;
    IF excess > 0 THEN
      IF p_refuse THEN
        status := 2; RETURN NEXT; RETURN;
      END IF;
      FOR vic IN SELECT r.* FROM session_records r WHERE r.user_id = p_user AND r.state = 0
          AND r.expires_ns > p_now AND r.gen >= g AND r.created_ns >= cut AND r.skey <> p_old
          ORDER BY r.seen_ns, r.skey LIMIT excess FOR UPDATE LOOP
        UPDATE session_records r SET state = 1, ended_ns = p_now, purge_ns = p_now + r.linger_ns, next_key = '',
          user_id = ''::bytea, user_agent = '', ip = '', ver = r.ver + 1 WHERE r.skey = vic.skey AND r.state = 0;
        DELETE FROM session_values sv WHERE sv.skey = vic.skey;
        status := 3; ekey := vic.skey; euser := vic.user_id; egen := vic.gen; ecreated := vic.created_ns;
        eseen := vic.seen_ns; eauth := vic.auth_ns; eua := vic.user_agent; eip := vic.ip; eidle := vic.idle_ns;
        eabs := vic.absolute_ns; epersist := vic.persist; elinger := vic.linger_ns; eexpires := vic.expires_ns;
        efamily := vic.family;
        RETURN NEXT;
      END LOOP;
    END IF;
  END IF;
  IF has_old THEN
    s_idle := o.idle_ns; s_abs := o.absolute_ns; s_persist := o.persist; s_linger := o.linger_ns;
  END IF;
  IF p_persist >= 0 THEN s_persist := p_persist; END IF;
  IF p_touts THEN s_idle := p_tidle; s_abs := p_tabs; s_linger := p_tlinger; END IF;
  newgen := g;
  IF has_old AND o.user_id = p_user AND NOT p_revoke THEN newgen := o.gen; END IF;
  INSERT INTO session_records AS r (skey, user_id, gen, state, created_ns, seen_ns, auth_ns, user_agent, ip, idle_ns,
      absolute_ns, persist, linger_ns, expires_ns, purge_ns, ended_ns, next_key, ver, family, methods)
    VALUES (p_new, p_user, newgen, 0, p_created, p_seen, p_auth, p_ua, p_ip, s_idle, s_abs, s_persist, s_linger,
      p_expires, p_expires + greatest(s_linger, 0), 0, '', 0, NULLIF(p_family, p_new), p_methods)
    ON CONFLICT (skey) DO UPDATE SET user_id = excluded.user_id, gen = excluded.gen, state = 0,
      created_ns = excluded.created_ns, seen_ns = excluded.seen_ns, auth_ns = excluded.auth_ns,
      user_agent = excluded.user_agent, ip = excluded.ip, idle_ns = excluded.idle_ns,
      absolute_ns = excluded.absolute_ns, persist = excluded.persist, linger_ns = excluded.linger_ns,
      expires_ns = excluded.expires_ns, purge_ns = excluded.purge_ns, ended_ns = 0, next_key = '', ver = 0,
      family = excluded.family, methods = excluded.methods;
  IF has_old AND NOT p_clear THEN
    UPDATE session_values sv SET skey = p_new WHERE sv.skey = p_old;
    DELETE FROM session_values sv WHERE sv.skey = p_new AND sv.name = ANY(p_del);
  END IF;
  INSERT INTO session_values AS sv (skey, name, val) SELECT p_new, t.nm, t.vl FROM unnest(p_names, p_vals) AS t(nm, vl)
    ON CONFLICT (skey, name) DO UPDATE SET val = excluded.val;
  IF has_old THEN
    UPDATE session_records r SET state = 2, ended_ns = p_seen, purge_ns = p_seen + r.linger_ns, next_key = p_new,
      user_id = ''::bytea, user_agent = '', ip = '', ver = r.ver + 1, family = p_family
      WHERE r.skey = p_old AND r.state = 0;
    IF p_clear THEN
      DELETE FROM session_values sv WHERE sv.skey = p_old;
    END IF;
  END IF;
  status := 0; ekey := NULL; RETURN NEXT;
END
$fn$`

// endFunctionPG is Delete on PostgreSQL in one round trip: the live row
// becomes a tombstone of the given state, and its values go. Being
// VOLATILE, its DELETE sees the values a concurrent writer committed while
// the UPDATE waited for the row lock (one statement with both would not).
const endFunctionPG = `CREATE OR REPLACE FUNCTION session_end(p_key text, p_state smallint, p_at bigint)
RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  UPDATE session_records r SET state = p_state, ended_ns = p_at, purge_ns = p_at + r.linger_ns, next_key = '',
    user_id = ''::bytea, user_agent = '', ip = '', ver = r.ver + 1 WHERE r.skey = p_key AND r.state = 0;
  IF FOUND THEN
    DELETE FROM session_values sv WHERE sv.skey = p_key;
  END IF;
END
$fn$`

// endFamilyFunctionPG is Store.EndFamily on PostgreSQL in one round trip:
// it ends every live row of the family as session_end does (normally
// one) and returns their metadata from before. Each statement of a
// VOLATILE function takes a new snapshot, but a row lock waited for
// re-checks only the locked row: a renewal committing meanwhile turns the
// old row into a tombstone and inserts the new one, which the waiting
// statement's snapshot does not hold. So the candidates are read without
// locking, each is locked by its key and looked at again, and the search
// starts over whenever a row it locked is no longer the family's live row
// (renewed or ended meanwhile). A renewal that locked the old row first
// is thus followed to its new row; one that comes after finds its old row
// ended and fails. Liveness is Load's (row.check): unexpired, of its
// user's current generation, not before RevokeAll's cutoff; a row that is
// not live is left alone.
const endFamilyFunctionPG = `CREATE OR REPLACE FUNCTION session_end_family(p_family text, p_now bigint)
RETURNS TABLE (ekey text, euser bytea, egen bigint, ecreated bigint, eseen bigint, eauth bigint,
  eua text, eip text, eidle bigint, eabs bigint, epersist smallint, elinger bigint, eexpires bigint, efamily text)
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  ks text[]; k text; o session_records%ROWTYPE; cut bigint; cur bigint; changed boolean;
BEGIN
  LOOP
    changed := false;
    SELECT array_agg(c.skey ORDER BY c.skey) INTO ks FROM (
      SELECT r.skey FROM session_records r WHERE r.family = p_family AND r.state = 0
      UNION ALL
      SELECT r.skey FROM session_records r WHERE r.skey = p_family AND r.state = 0 AND COALESCE(r.family, '') = '') c;
    EXIT WHEN ks IS NULL;
    cut := COALESCE((SELECT c.cutoff_ns FROM session_cutoff c WHERE c.id = 1), 0);
    FOREACH k IN ARRAY ks LOOP
      SELECT * INTO o FROM session_records r WHERE r.skey = k FOR UPDATE;
      IF NOT FOUND OR o.state <> 0 OR COALESCE(NULLIF(o.family, ''), o.skey) <> p_family THEN
        changed := true;
        CONTINUE;
      END IF;
      IF o.gen < 0 OR o.linger_ns < 0 THEN
        RAISE EXCEPTION 'corrupt state in session_records';
      END IF;
      cur := COALESCE((SELECT x.gen FROM session_users x WHERE x.user_id = o.user_id), 0);
      IF p_now >= o.expires_ns OR (o.user_id <> ''::bytea AND o.gen < cur) OR o.created_ns < cut THEN
        CONTINUE;
      END IF;
      UPDATE session_records r SET state = 1, ended_ns = p_now, purge_ns = p_now + r.linger_ns, next_key = '',
        user_id = ''::bytea, user_agent = '', ip = '', ver = r.ver + 1 WHERE r.skey = k;
      DELETE FROM session_values sv WHERE sv.skey = k;
      ekey := o.skey; euser := o.user_id; egen := o.gen; ecreated := o.created_ns; eseen := o.seen_ns;
      eauth := o.auth_ns; eua := o.user_agent; eip := o.ip; eidle := o.idle_ns; eabs := o.absolute_ns;
      epersist := o.persist; elinger := o.linger_ns; eexpires := o.expires_ns; efamily := o.family;
      RETURN NEXT;
    END LOOP;
    EXIT WHEN NOT changed;
  END LOOP;
END
$fn$`

// callRotatePG calls session_rotate. Arrays travel as text literals, so
// that any driver (pgx, lib/pq) can pass them.
const callRotatePG = `SELECT status, ekey, euser, egen, ecreated, eseen, eauth, eua, eip, eidle, eabs, epersist, elinger, eexpires,
 efamily FROM session_rotate($1::text, $2::text, $3::bytea, $4::boolean, $5::integer, $6::boolean, $7::bigint,
 $8::bigint, $9::bigint, $10::bigint, $11::text, $12::text, $13::bigint, $14::bigint,
 $15::boolean, $16::smallint, $17::boolean, $18::bigint, $19::bigint, $20::bigint,
 $21::text[], $22::text[], $23::bytea[], $24::text, $25::text)`

// callEndFamilyPG calls session_end_family.
const callEndFamilyPG = `SELECT ekey, euser, egen, ecreated, eseen, eauth, eua, eip, eidle, eabs, epersist, elinger, eexpires, efamily
 FROM session_end_family($1::text, $2::bigint)`

// rotatePG is Rotate in one round trip.
func (s *Store) rotatePG(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	m, d := &rot.Meta, &rot.Delta
	persist := -1
	if d.Persist != nil {
		persist = 0
		if *d.Persist {
			persist = 1
		}
	}
	var touts bool
	var tidle, tabs, tlinger int64
	if t := d.Timeouts; t != nil {
		touts, tidle, tabs, tlinger = true, int64(t.Idle), int64(t.Absolute), lingerNs(t.Linger)
	}
	names := slices.Sorted(maps.Keys(d.Set))
	vals := make([]string, len(names))
	for i, k := range names {
		vals[i] = `\x` + hex.EncodeToString(d.Set[k])
		names[i] = s.nameArg(k)
	}
	del := make([]string, len(d.Delete))
	for i, k := range d.Delete {
		del[i] = s.nameArg(k)
	}
	rows, err := s.db.QueryContext(ctx, callRotatePG,
		rot.OldKey, rot.NewKey, []byte(m.UserID), rot.RevokeUser, rot.MaxSessions, rot.RefuseNew, s.now().UnixNano(),
		ns(m.CreatedAt), ns(m.LastSeen), ns(m.AuthenticatedAt), m.UserAgent, m.IP, ns(m.Expires), lingerNs(m.Linger),
		d.Clear, persist, touts, tidle, tabs, tlinger,
		arrayLiteral(del), arrayLiteral(names), arrayLiteral(vals), familyOf(rot.NewKey, m.Family), m.Methods)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evicted []session.IndexedRecord
	for rows.Next() {
		// The session columns are NULL on the status rows.
		var status int
		var e endedRow
		if err := rows.Scan(append([]any{&status}, e.dest()...)...); err != nil {
			return nil, err
		}
		switch status {
		case 0:
			return evicted, rows.Err()
		case 1:
			return nil, session.ErrNotFound
		case 2:
			return nil, session.ErrTooManySessions
		case 3:
			evicted = append(evicted, e.record())
		default:
			return nil, corrupt("session_rotate status")
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return nil, corrupt("session_rotate result")
}

// endedRow is a session ended by session_rotate (evicted) or
// session_end_family: its key and its metadata from before it ended. The
// columns are NULL on session_rotate's status rows.
type endedRow struct {
	key, ua, ip, family sql.NullString
	user                []byte
	n                   [9]sql.NullInt64
}

// dest returns the scan destinations of the e... columns, in order.
func (e *endedRow) dest() []any {
	n := &e.n
	return []any{&e.key, &e.user, &n[0], &n[1], &n[2], &n[3], &e.ua, &e.ip, &n[4], &n[5], &n[6], &n[7], &n[8], &e.family}
}

func (e *endedRow) record() session.IndexedRecord {
	n := &e.n
	w := row{user: e.user, gen: n[0].Int64, created: n[1].Int64, seen: n[2].Int64, auth: n[3].Int64,
		ua: e.ua.String, ip: e.ip.String, idle: n[4].Int64, abs: n[5].Int64, persist: n[6].Int64,
		linger: n[7].Int64, expires: n[8].Int64, family: e.family}
	return session.IndexedRecord{Key: e.key.String, Meta: w.meta()}
}

// endFamilyPG is EndFamily in one round trip.
func (s *Store) endFamilyPG(ctx context.Context, family string) ([]session.IndexedRecord, error) {
	rows, err := s.db.QueryContext(ctx, callEndFamilyPG, family, s.now().UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []session.IndexedRecord
	for rows.Next() {
		var e endedRow
		if err := rows.Scan(e.dest()...); err != nil {
			return nil, err
		}
		out = append(out, e.record())
	}
	return out, rows.Err()
}

// arrayLiteral writes ss as a PostgreSQL array literal: every element
// quoted, backslashes and quotes escaped.
func arrayLiteral(ss []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}
