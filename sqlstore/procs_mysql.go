package sqlstore

// The MySQL/MariaDB stored procedures that make each session write one
// round trip, as session_rotate does on PostgreSQL. Each runs its own
// READ COMMITTED transaction (no gap locks: concurrent writers of
// neighbouring keys never deadlock) and rolls it back on any error.
// Values travel as a JSON array of [name, value] pairs, both base64, and
// deleted names as a JSON array of base64 names (JSON_TABLE: MariaDB 10.6,
// MySQL 8.0; CREATE PROCEDURE IF NOT EXISTS: MySQL 8.0.29). The names carry a version: a release that changes a body
// creates the next name, so instances of the old and new releases can run
// side by side against one schema, and Migrate never drops a procedure
// that a running instance calls. No release has shipped the _v1 bodies
// yet, so the family column changed session_create_v1 and
// session_rotate_v1 in place (Migrate replaces the older bodies: see
// Store.addFamily); from the first release on, a change takes _v2.

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/sessionkit/session"
)

// mysqlValuesTable reads the pairs of p_set as rows (n, v).
const mysqlValuesTable = `JSON_TABLE(p_set, '$[*]' COLUMNS (n TEXT PATH '$[0]', v LONGTEXT PATH '$[1]')) AS t`

// mysqlHandler rolls the procedure's transaction back and re-raises.
const mysqlHandler = `DECLARE EXIT HANDLER FOR SQLEXCEPTION BEGIN ROLLBACK; RESIGNAL; END;`

// mysqlBegin starts the procedure's transaction.
const mysqlBegin = `SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION;`

// mysqlRecordUpsert is the ON DUPLICATE KEY clause replacing a whole
// session_records row.
const mysqlRecordUpsert = ` ON DUPLICATE KEY UPDATE user_id = VALUES(user_id), gen = VALUES(gen), state = VALUES(state),
  created_ns = VALUES(created_ns), seen_ns = VALUES(seen_ns), auth_ns = VALUES(auth_ns), user_agent = VALUES(user_agent),
  ip = VALUES(ip), idle_ns = VALUES(idle_ns), absolute_ns = VALUES(absolute_ns), persist = VALUES(persist),
  linger_ns = VALUES(linger_ns), expires_ns = VALUES(expires_ns), purge_ns = VALUES(purge_ns), ended_ns = VALUES(ended_ns),
  next_key = VALUES(next_key), ver = VALUES(ver), family = VALUES(family), methods = VALUES(methods)`

// createProcMySQL is Store.create: the record, stamped with its user's
// current generation (read without locking the user's row), replacing
// whatever the key held, and its values. p_family is the family column
// (NULL: the key's own).
const createProcMySQL = `CREATE PROCEDURE IF NOT EXISTS session_create_v1(
  p_key VARBINARY(255), p_user VARBINARY(255), p_created BIGINT, p_seen BIGINT, p_auth BIGINT,
  p_ua TEXT CHARACTER SET utf8mb4, p_ip VARCHAR(255) CHARACTER SET utf8mb4, p_idle BIGINT, p_abs BIGINT,
  p_persist SMALLINT, p_linger BIGINT, p_expires BIGINT, p_set LONGTEXT, p_family VARBINARY(255),
  p_methods VARCHAR(512) CHARACTER SET utf8mb4)
MODIFIES SQL DATA
BEGIN
  ` + mysqlHandler + `
  ` + mysqlBegin + `
  INSERT INTO session_records (` + recordCols + `) VALUES (p_key, p_user,
    COALESCE((SELECT g.gen FROM session_users g WHERE g.user_id = p_user), 0), 0, p_created, p_seen, p_auth, p_ua, p_ip,
    p_idle, p_abs, p_persist, p_linger, p_expires, p_expires + GREATEST(p_linger, 0), 0, '', 0, p_family, p_methods)` + mysqlRecordUpsert + `;
  -- Always, not on ROW_COUNT(): with the client's CLIENT_FOUND_ROWS flag
  -- (clientFoundRows=true) a replacement by identical columns counts 1,
  -- like an insert, and the old values would survive.
  DELETE FROM session_values WHERE skey = p_key;
  INSERT INTO session_values (skey, name, val) SELECT p_key, FROM_BASE64(t.n), FROM_BASE64(t.v) FROM ` + mysqlValuesTable + `;
  COMMIT;
END`

// updateProcMySQL is Store.Update: the conditional UPDATE that checks the
// row is live, unexpired and of its user's current generation (and locks
// it), then the value changes. Its one result row is 1 when applied, 0
// when the session was not live (nothing written).
const updateProcMySQL = `CREATE PROCEDURE IF NOT EXISTS session_update_v1(
  p_key VARBINARY(255), p_now BIGINT, p_seen BIGINT, p_expires BIGINT, p_persist SMALLINT,
  p_touts TINYINT, p_tidle BIGINT, p_tabs BIGINT, p_tlinger BIGINT, p_clear TINYINT, p_del LONGTEXT, p_set LONGTEXT)
MODIFIES SQL DATA
proc: BEGIN
  ` + mysqlHandler + `
  ` + mysqlBegin + `
  UPDATE session_records SET ver = ver + 1,
    seen_ns = IF(p_seen <> 0, p_seen, seen_ns),
    persist = IF(p_persist >= 0, p_persist, persist),
    idle_ns = IF(p_touts, p_tidle, idle_ns), absolute_ns = IF(p_touts, p_tabs, absolute_ns),
    purge_ns = IF(purge_ns >= IF(p_expires <> 0, p_expires, expires_ns) + GREATEST(IF(p_touts, p_tlinger, linger_ns), 0),
      purge_ns, IF(p_expires <> 0, p_expires, expires_ns) + GREATEST(IF(p_touts, p_tlinger, linger_ns), 0) + ` + purgeSlackSQL + `),
    linger_ns = IF(p_touts, p_tlinger, linger_ns),
    expires_ns = IF(p_expires <> 0, p_expires, expires_ns)
  WHERE skey = p_key AND state = 0 AND expires_ns > p_now AND gen >=
    COALESCE((SELECT g.gen FROM session_users g WHERE g.user_id = session_records.user_id), 0)
    AND created_ns >= ` + cutoffOf + `;
  IF ROW_COUNT() = 0 THEN
    ROLLBACK;
    SELECT 0;
    LEAVE proc;
  END IF;
  IF p_clear THEN
    DELETE FROM session_values WHERE skey = p_key;
  ELSEIF p_del <> '[]' THEN
    DELETE FROM session_values WHERE skey = p_key AND name IN
      (SELECT FROM_BASE64(d.n) FROM JSON_TABLE(p_del, '$[*]' COLUMNS (n TEXT PATH '$')) AS d);
  END IF;
  INSERT INTO session_values (skey, name, val) SELECT p_key, FROM_BASE64(t.n), FROM_BASE64(t.v) FROM ` + mysqlValuesTable + `
    ON DUPLICATE KEY UPDATE val = VALUES(val);
  COMMIT;
  SELECT 1;
END`

// endProcMySQL is Store.Delete: the live row becomes a tombstone of the
// given state that keeps nothing of the session but its timing, and its
// values go.
const endProcMySQL = `CREATE PROCEDURE IF NOT EXISTS session_end_v1(p_key VARBINARY(255), p_state SMALLINT, p_at BIGINT)
MODIFIES SQL DATA
BEGIN
  ` + mysqlHandler + `
  ` + mysqlBegin + `
  UPDATE session_records SET state = p_state, ended_ns = p_at, purge_ns = p_at + linger_ns, next_key = '',
    user_id = '', user_agent = '', ip = '', ver = ver + 1 WHERE skey = p_key AND state = 0;
  IF ROW_COUNT() > 0 THEN
    DELETE FROM session_values WHERE skey = p_key;
  END IF;
  COMMIT;
END`

// rotateProcMySQL is Store.rotate (and rotateFunctionPG) as one
// procedure, step for step. Its one result row is the status (0 done, 1
// old key not live and current, 2 the cap refuses) and the evicted
// sessions as a JSON array of ended rows (see parseEnded). p_family is
// the renewed session's family (never empty): the new row's family
// column (NULL when it is p_new) and its tombstone's.
const rotateProcMySQL = `CREATE PROCEDURE IF NOT EXISTS session_rotate_v1(
  p_old VARBINARY(255), p_new VARBINARY(255), p_user VARBINARY(255), p_revoke TINYINT, p_max INT, p_refuse TINYINT,
  p_now BIGINT, p_created BIGINT, p_seen BIGINT, p_auth BIGINT, p_ua TEXT CHARACTER SET utf8mb4,
  p_ip VARCHAR(255) CHARACTER SET utf8mb4, p_expires BIGINT, p_linger BIGINT, p_clear TINYINT, p_persist SMALLINT,
  p_touts TINYINT, p_tidle BIGINT, p_tabs BIGINT, p_tlinger BIGINT, p_del LONGTEXT, p_set LONGTEXT,
  p_family VARBINARY(255), p_methods VARCHAR(512) CHARACTER SET utf8mb4)
MODIFIES SQL DATA
proc: BEGIN
  DECLARE g, prev, cur, cnt, excess, newgen, cut BIGINT DEFAULT 0;
  DECLARE has_old, alive, done TINYINT DEFAULT 0;
  DECLARE o_user VARBINARY(255) DEFAULT NULL;
  DECLARE o_gen, o_state, o_idle, o_abs, o_linger, o_expires, o_created BIGINT DEFAULT 0;
  DECLARE o_persist SMALLINT DEFAULT 0;
  DECLARE s_idle, s_abs, s_linger BIGINT DEFAULT 0;
  DECLARE s_persist SMALLINT DEFAULT 0;
  DECLARE vic LONGTEXT CHARACTER SET utf8mb4 DEFAULT '';
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
  ` + mysqlHandler + `
  SET s_linger = p_linger, alive = 1;
  ` + mysqlBegin + `
  SET cut = ` + cutoffOf + `;
  IF p_user <> '' THEN
    IF p_revoke THEN
      INSERT INTO session_users (user_id, gen) VALUES (p_user, 1) ON DUPLICATE KEY UPDATE gen = gen + 1;
    ELSE
      INSERT INTO session_users (user_id, gen) VALUES (p_user, 0) ON DUPLICATE KEY UPDATE gen = gen;
    END IF;
    SELECT u.gen INTO g FROM session_users u WHERE u.user_id = p_user;
    SET prev = IF(p_revoke, g - 1, g);
  END IF;
  IF p_old <> '' THEN
    SET done = 0;
    SELECT r.user_id, r.gen, r.state, r.idle_ns, r.absolute_ns, r.persist, r.linger_ns, r.expires_ns, r.created_ns
      INTO o_user, o_gen, o_state, o_idle, o_abs, o_persist, o_linger, o_expires, o_created
      FROM session_records r WHERE r.skey = p_old FOR UPDATE;
    IF done THEN
      SET alive = 0;
    ELSE
      IF o_state < 0 OR o_state > 3 OR o_gen < 0 OR o_linger < 0 THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'corrupt state in session_records';
      END IF;
      IF p_user <> '' AND o_user = p_user THEN
        SET cur = prev;
      ELSE
        SET cur = COALESCE((SELECT x.gen FROM session_users x WHERE x.user_id = o_user), 0);
      END IF;
      IF o_state <> 0 OR p_now >= o_expires OR (o_user <> '' AND o_gen < cur) OR o_created < cut THEN
        SET alive = 0;
      ELSE
        SET has_old = 1;
      END IF;
    END IF;
  END IF;
  IF p_revoke AND p_user <> '' THEN
    -- Each row through its primary key, then its values: see
    -- Store.revokeByKey.
    BEGIN
      DECLARE r_key VARBINARY(255);
      DECLARE revoked CURSOR FOR SELECT r.skey FROM session_records r
        WHERE r.user_id = p_user AND r.state = 0 AND r.gen < g AND r.skey <> p_old ORDER BY r.skey;
      SET done = 0;
      OPEN revoked;
      revoke_loop: LOOP
        FETCH revoked INTO r_key;
        IF done THEN
          LEAVE revoke_loop;
        END IF;
        UPDATE session_records SET state = 3, ended_ns = p_now, purge_ns = p_now + linger_ns, next_key = '',
          user_id = '', user_agent = '', ip = '', ver = ver + 1 WHERE skey = r_key AND state = 0 AND gen < g;
        DELETE FROM session_values WHERE skey = r_key;
      END LOOP;
      CLOSE revoked;
    END;
  END IF;
  IF NOT alive THEN
    COMMIT;
    SELECT 1, '[]';
    LEAVE proc;
  END IF;
  IF p_user <> '' AND p_max > 0 THEN
    SELECT COUNT(*) INTO cnt FROM session_records r WHERE r.user_id = p_user AND r.state = 0
      AND r.expires_ns > p_now AND r.gen >= g AND r.created_ns >= cut AND r.skey <> p_old;
    SET excess = cnt - p_max + 1;
    IF excess > 0 THEN
      IF p_refuse THEN
        COMMIT;
        SELECT 2, '[]';
        LEAVE proc;
      END IF;
      BEGIN
        DECLARE v_key, v_user, v_family VARBINARY(255);
        DECLARE v_gen, v_created, v_seen, v_auth, v_idle, v_abs, v_linger, v_expires BIGINT;
        DECLARE v_persist SMALLINT;
        DECLARE v_ua TEXT CHARACTER SET utf8mb4;
        DECLARE v_ip VARCHAR(255) CHARACTER SET utf8mb4;
        DECLARE victims CURSOR FOR SELECT r.skey, r.user_id, r.gen, r.created_ns, r.seen_ns, r.auth_ns, r.user_agent,
            r.ip, r.idle_ns, r.absolute_ns, r.persist, r.linger_ns, r.expires_ns, r.family FROM session_records r
          WHERE r.user_id = p_user AND r.state = 0 AND r.expires_ns > p_now AND r.gen >= g AND r.created_ns >= cut
            AND r.skey <> p_old
          ORDER BY r.seen_ns, r.skey LIMIT excess;
        SET done = 0;
        OPEN victims;
        evict: LOOP
          FETCH victims INTO v_key, v_user, v_gen, v_created, v_seen, v_auth, v_ua, v_ip, v_idle, v_abs, v_persist,
            v_linger, v_expires, v_family;
          IF done THEN
            LEAVE evict;
          END IF;
          -- Read without locking (see Store.revokeByKey), ended through
          -- the primary key while still live: one a logout ended
          -- meanwhile is no victim.
          UPDATE session_records SET state = 1, ended_ns = p_now, purge_ns = p_now + linger_ns, next_key = '',
            user_id = '', user_agent = '', ip = '', ver = ver + 1 WHERE skey = v_key AND state = 0;
          IF ROW_COUNT() = 0 THEN
            ITERATE evict;
          END IF;
          DELETE FROM session_values WHERE skey = v_key;
          SET vic = CONCAT(vic, IF(vic = '', '', ','), JSON_ARRAY(HEX(v_key), HEX(v_user), v_gen, v_created, v_seen,
            v_auth, v_ua, v_ip, v_idle, v_abs, v_persist, v_linger, v_expires, HEX(COALESCE(v_family, ''))));
        END LOOP;
        CLOSE victims;
      END;
    END IF;
  END IF;
  IF has_old THEN
    SET s_idle = o_idle, s_abs = o_abs, s_persist = o_persist, s_linger = o_linger;
  END IF;
  IF p_persist >= 0 THEN
    SET s_persist = p_persist;
  END IF;
  IF p_touts THEN
    SET s_idle = p_tidle, s_abs = p_tabs, s_linger = p_tlinger;
  END IF;
  SET newgen = g;
  IF has_old AND o_user = p_user AND NOT p_revoke THEN
    SET newgen = o_gen;
  END IF;
  INSERT INTO session_records (` + recordCols + `) VALUES (p_new, p_user, newgen, 0, p_created, p_seen, p_auth,
    p_ua, p_ip, s_idle, s_abs, s_persist, s_linger, p_expires, p_expires + GREATEST(s_linger, 0), 0, '', 0,
    NULLIF(p_family, p_new), p_methods)` + mysqlRecordUpsert + `;
  IF has_old AND NOT p_clear THEN
    UPDATE session_values SET skey = p_new WHERE skey = p_old;
    IF p_del <> '[]' THEN
      DELETE FROM session_values WHERE skey = p_new AND name IN
        (SELECT FROM_BASE64(d.n) FROM JSON_TABLE(p_del, '$[*]' COLUMNS (n TEXT PATH '$')) AS d);
    END IF;
  END IF;
  INSERT INTO session_values (skey, name, val) SELECT p_new, FROM_BASE64(t.n), FROM_BASE64(t.v) FROM ` + mysqlValuesTable + `
    ON DUPLICATE KEY UPDATE val = VALUES(val);
  IF has_old THEN
    UPDATE session_records SET state = 2, ended_ns = p_seen, purge_ns = p_seen + linger_ns, next_key = p_new,
      user_id = '', user_agent = '', ip = '', ver = ver + 1, family = p_family WHERE skey = p_old AND state = 0;
    IF p_clear THEN
      DELETE FROM session_values WHERE skey = p_old;
    END IF;
  END IF;
  COMMIT;
  SELECT 0, CONCAT('[', vic, ']');
END`

// endFamilyProcMySQL is Store.EndFamily (and endFamilyFunctionPG) as one
// procedure: it ends every live row of the family as session_end_v1 does
// (normally one), and returns them as a JSON array of ended rows (see
// parseEnded). A locking read sees the latest committed rows, but a
// renewal committing while it waits may have inserted the family's new
// row behind its position in the index: so it reads the candidates
// without locking, locks each by its primary key and looks again, and
// scans anew whenever a row it locked is no longer the family's live row
// (renewed or ended meanwhile). A renewal that locked the old row first
// is thus followed to its new row; one that comes after finds its old row
// ended and fails.
const endFamilyProcMySQL = `CREATE PROCEDURE IF NOT EXISTS session_end_family_v1(p_family VARBINARY(255), p_now BIGINT)
MODIFIES SQL DATA
proc: BEGIN
  DECLARE k, lastk, o_user, o_family VARBINARY(255) DEFAULT NULL;
  DECLARE changed, done TINYINT DEFAULT 0;
  DECLARE cut, cur, o_gen, o_state, o_created, o_seen, o_auth, o_idle, o_abs, o_linger, o_expires BIGINT DEFAULT 0;
  DECLARE o_persist SMALLINT DEFAULT 0;
  DECLARE o_ua TEXT CHARACTER SET utf8mb4 DEFAULT '';
  DECLARE o_ip VARCHAR(255) CHARACTER SET utf8mb4 DEFAULT '';
  DECLARE ended LONGTEXT CHARACTER SET utf8mb4 DEFAULT '';
  DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = 1;
  ` + mysqlHandler + `
  ` + mysqlBegin + `
  scan: LOOP
    -- Generations and the cutoff are read by plain SELECT ... INTO: a
    -- subquery in SET takes a shared lock on MariaDB, and waiting for the
    -- user's row (which Rotate locks before the session's) while holding
    -- a session's row deadlocks with a renewal.
    SET changed = 0, lastk = '';
    SELECT COALESCE(MAX(c.cutoff_ns), 0) INTO cut FROM session_cutoff c WHERE c.id = 1;
    candidates: LOOP
      SET done = 0, k = NULL;
      SELECT c.skey INTO k FROM (
        SELECT r.skey FROM session_records r WHERE r.family = p_family AND r.state = 0 AND r.skey > lastk
        UNION ALL
        SELECT r.skey FROM session_records r WHERE r.skey = p_family AND r.state = 0 AND COALESCE(r.family, '') = ''
          AND r.skey > lastk) c ORDER BY c.skey LIMIT 1;
      IF done OR k IS NULL THEN
        LEAVE candidates;
      END IF;
      SET lastk = k, done = 0;
      SELECT r.user_id, r.gen, r.state, r.created_ns, r.seen_ns, r.auth_ns, r.user_agent, r.ip, r.idle_ns,
          r.absolute_ns, r.persist, r.linger_ns, r.expires_ns, r.family
        INTO o_user, o_gen, o_state, o_created, o_seen, o_auth, o_ua, o_ip, o_idle, o_abs, o_persist, o_linger,
          o_expires, o_family
        FROM session_records r WHERE r.skey = k FOR UPDATE;
      IF done OR o_state <> 0 OR COALESCE(NULLIF(o_family, ''), k) <> p_family THEN
        SET changed = 1;
        ITERATE candidates;
      END IF;
      IF o_gen < 0 OR o_linger < 0 THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'corrupt state in session_records';
      END IF;
      SELECT COALESCE(MAX(x.gen), 0) INTO cur FROM session_users x WHERE x.user_id = o_user;
      IF p_now >= o_expires OR (o_user <> '' AND o_gen < cur) OR o_created < cut THEN
        ITERATE candidates; -- not live (as Load judges it): left alone
      END IF;
      UPDATE session_records SET state = 1, ended_ns = p_now, purge_ns = p_now + linger_ns, next_key = '',
        user_id = '', user_agent = '', ip = '', ver = ver + 1 WHERE skey = k;
      DELETE FROM session_values WHERE skey = k;
      SET ended = CONCAT(ended, IF(ended = '', '', ','), JSON_ARRAY(HEX(k), HEX(o_user), o_gen, o_created, o_seen,
        o_auth, o_ua, o_ip, o_idle, o_abs, o_persist, o_linger, o_expires, HEX(COALESCE(o_family, ''))));
    END LOOP;
    IF NOT changed THEN
      LEAVE scan;
    END IF;
  END LOOP;
  COMMIT;
  SELECT CONCAT('[', ended, ']');
END`

// The calls of the procedures, prepared once per pooled connection.
const (
	callCreateMySQL    = `CALL session_create_v1(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	callUpdateMySQL    = `CALL session_update_v1(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	callEndMySQL       = `CALL session_end_v1(?, ?, ?)`
	callRotateMySQL    = `CALL session_rotate_v1(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	callEndFamilyMySQL = `CALL session_end_family_v1(?, ?)`
)

// createMySQL is create in one round trip.
func (s *Store) createMySQL(ctx context.Context, key string, m *session.Meta, values map[string][]byte) error {
	return s.exec(ctx, callCreateMySQL, key, m.UserID, ns(m.CreatedAt), ns(m.LastSeen), ns(m.AuthenticatedAt),
		m.UserAgent, m.IP, int64(m.IdleTimeout), int64(m.AbsoluteTimeout), boolInt(m.Persist), lingerNs(m.Linger),
		ns(m.Expires), valuesJSON(values), familyArg(key, m.Family), m.Methods)
}

// updateMySQL is Update in one round trip.
func (s *Store) updateMySQL(ctx context.Context, key string, d *session.Delta) error {
	persist, touts, tidle, tabs, tlinger := deltaSettings(d)
	var applied int
	err := s.queryRow(ctx, callUpdateMySQL, []any{key, s.now().UnixNano(), ns(d.LastSeen), ns(d.Expires), persist,
		touts, tidle, tabs, tlinger, boolInt(d.Clear), namesJSON(d.Delete), valuesJSON(d.Set)}, &applied)
	if err != nil {
		return err
	}
	if applied == 0 {
		return session.ErrNotFound
	}
	return nil
}

// endMySQL is Delete in one round trip.
func (s *Store) endMySQL(ctx context.Context, key string) error {
	return s.exec(ctx, callEndMySQL, key, stateDestroyed, s.now().UnixNano())
}

// rotateMySQL is Rotate in one round trip.
func (s *Store) rotateMySQL(ctx context.Context, rot *session.Rotation) ([]session.IndexedRecord, error) {
	m, d := &rot.Meta, &rot.Delta
	persist, touts, tidle, tabs, tlinger := deltaSettings(d)
	var status int
	var victims []byte
	err := s.queryRow(ctx, callRotateMySQL, []any{rot.OldKey, rot.NewKey, m.UserID, boolInt(rot.RevokeUser),
		rot.MaxSessions, boolInt(rot.RefuseNew), s.now().UnixNano(), ns(m.CreatedAt), ns(m.LastSeen),
		ns(m.AuthenticatedAt), m.UserAgent, m.IP, ns(m.Expires), lingerNs(m.Linger), boolInt(d.Clear), persist,
		touts, tidle, tabs, tlinger, namesJSON(d.Delete), valuesJSON(d.Set), familyOf(rot.NewKey, m.Family), m.Methods},
		&status, &victims)
	if err != nil {
		return nil, err
	}
	switch status {
	case 0:
		return parseEnded(victims)
	case 1:
		return nil, session.ErrNotFound
	case 2:
		return nil, session.ErrTooManySessions
	}
	return nil, corrupt("session_rotate status")
}

// parseEnded reads the rows session_rotate_v1 evicted or
// session_end_family_v1 ended: a JSON array of [hex key, hex user, gen,
// created, seen, auth, user agent, IP, idle, absolute, persist, linger,
// expires, hex family], with their metadata from before they ended.
func parseEnded(js []byte) ([]session.IndexedRecord, error) {
	var list [][]json.RawMessage
	if err := json.Unmarshal(js, &list); err != nil {
		return nil, fmt.Errorf("ended sessions: %w", err)
	}
	var out []session.IndexedRecord
	for _, f := range list {
		if len(f) != 14 {
			return nil, corrupt("ended session")
		}
		// MariaDB writes the integer variables as JSON strings, MySQL as
		// numbers: both are read.
		var v [14]string
		for i, raw := range f {
			if json.Unmarshal(raw, &v[i]) != nil {
				v[i] = string(raw)
			}
		}
		var n [14]int64
		for _, i := range []int{2, 3, 4, 5, 8, 9, 10, 11, 12} {
			var err error
			if n[i], err = strconv.ParseInt(v[i], 10, 64); err != nil {
				return nil, fmt.Errorf("ended session: %w", err)
			}
		}
		var hexes [3][]byte
		for i, j := range []int{0, 1, 13} {
			var err error
			if hexes[i], err = hex.DecodeString(v[j]); err != nil {
				return nil, fmt.Errorf("ended session: %w", err)
			}
		}
		key, user, family := hexes[0], hexes[1], hexes[2]
		w := row{user: user, gen: n[2], created: n[3], seen: n[4], auth: n[5], ua: v[6], ip: v[7],
			idle: n[8], abs: n[9], persist: n[10], linger: n[11], expires: n[12],
			family: sql.NullString{String: string(family), Valid: len(family) > 0}}
		out = append(out, session.IndexedRecord{Key: string(key), Meta: w.meta()})
	}
	return out, nil
}

// deltaSettings are the optional settings of d as procedure arguments:
// persist is -1 when d leaves it unchanged.
func deltaSettings(d *session.Delta) (persist, touts int, tidle, tabs, tlinger int64) {
	persist = -1
	if d.Persist != nil {
		persist = boolInt(*d.Persist)
	}
	if t := d.Timeouts; t != nil {
		touts, tidle, tabs, tlinger = 1, int64(t.Idle), int64(t.Absolute), lingerNs(t.Linger)
	}
	return
}

// valuesJSON encodes values as the procedures' p_set: a JSON array of
// [name, value] pairs, both base64, in name order (a fixed lock order
// between concurrent upserts).
func valuesJSON(values map[string][]byte) string {
	pairs := make([][2]string, 0, len(values))
	for _, k := range slices.Sorted(maps.Keys(values)) {
		pairs = append(pairs, [2]string{base64.StdEncoding.EncodeToString([]byte(k)), base64.StdEncoding.EncodeToString(values[k])})
	}
	b, _ := json.Marshal(pairs) // strings only: cannot fail
	return string(b)
}

// namesJSON encodes names as the procedures' p_del: a JSON array of base64
// names.
func namesJSON(names []string) string {
	enc := make([]string, len(names))
	for i, k := range names {
		enc[i] = base64.StdEncoding.EncodeToString([]byte(k))
	}
	b, _ := json.Marshal(enc)
	return string(b)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
