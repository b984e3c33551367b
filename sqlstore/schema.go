package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/sessionkit/session"
)

// Schema returns the DDL that [Store.Migrate] runs for dialect d, as
// statements separated by ";\n", for teams that apply migrations with their
// own tool. Every statement is idempotent (IF NOT EXISTS, CREATE OR
// REPLACE).
//
// The tables:
//
//   - session_records: one row per session key (the SHA-256 hash of the
//     token, never the token), with its user, revocation generation, device,
//     timestamps (integers: unix nanoseconds) and state: 0 while live, or
//     the reason it ended (1 destroyed, 2 rotated, 3 revoked) while its
//     tombstone lingers. purge_ns, indexed, is when the reaper may delete
//     the row: the expiry plus the linger, or up to a minute later (an
//     Update that slides the expiry moves it a minute beyond, and only
//     once the expiry outgrows it, so that most writes change no indexed
//     column: a HOT update on PostgreSQL). user_id is indexed: that index
//     is the per-user index behind "your devices", the cap and
//     log-out-everywhere. family is the session's family (Meta.Family),
//     NULL when it is the row's own key; a row keeps it as a tombstone, and
//     a renewal's tombstone takes the renewed session's. An index of the
//     live rows' families (partial on PostgreSQL and SQLite, on (family,
//     state) on MySQL) finds a family's live session in one lookup,
//     however often it was renewed.
//   - session_values: one row per (session key, value name): a request's
//     changes merge per name.
//   - session_users: each user's revocation generation.
//   - session_cutoff: one row, [Store.RevokeAll]'s cutoff: sessions
//     created before it are revoked.
//   - session_audit: the append-only audit trail written by [Store.Audit];
//     at is unix milliseconds; target_ip and target_user_agent are the
//     device a revocation ended (” for other events).
//   - on PostgreSQL, the function session_rotate: a renewal (Login, Renew)
//     in one round trip, session_end: a logout in one, and
//     session_end_family: the end of a family (Rotator.EndFamily) in one;
//     on MySQL, the procedures session_create_v1, session_update_v1,
//     session_end_v1, session_rotate_v1 and session_end_family_v1: every
//     write in one round trip (the database user needs the CREATE ROUTINE
//     privilege to migrate, EXECUTE to run).
//
// User IDs are opaque bytes compared exactly: BYTEA on PostgreSQL,
// VARBINARY(255) on MySQL (so at most 255 bytes there: a longer one is
// refused with [ErrTooLong]), TEXT with SQLite's binary collation. The
// audit trail keeps each user ID whole in the same type.
//
// Tables created before the family column (an unreleased schema) lack it:
// Migrate adds it and its index (ALTER TABLE session_records ADD COLUMN
// family, of the type above) and replaces the routines written before it.
// Likewise for the methods column (the session's authentication methods,
// Meta.Methods, kept verbatim; ” for none). With your own tool, apply the
// same before this schema. Likewise an audit table created before
// target_ip and target_user_agent: Migrate adds them (ALTER TABLE
// session_audit ADD COLUMN target_ip, target_user_agent, of the types
// above, NOT NULL DEFAULT ”).
func Schema(d Dialect) string {
	return strings.Join(ddl(d), ";\n") + ";\n"
}

// ddl returns the statements of Schema.
func ddl(d Dialect) []string {
	switch d {
	case Postgres:
		return []string{
			`CREATE TABLE IF NOT EXISTS session_records (
  skey TEXT COLLATE "C" NOT NULL PRIMARY KEY,
  user_id BYTEA NOT NULL,
  gen BIGINT NOT NULL,
  state SMALLINT NOT NULL,
  created_ns BIGINT NOT NULL,
  seen_ns BIGINT NOT NULL,
  auth_ns BIGINT NOT NULL,
  user_agent TEXT NOT NULL,
  ip TEXT NOT NULL,
  idle_ns BIGINT NOT NULL,
  absolute_ns BIGINT NOT NULL,
  persist SMALLINT NOT NULL,
  linger_ns BIGINT NOT NULL,
  expires_ns BIGINT NOT NULL,
  purge_ns BIGINT NOT NULL,
  ended_ns BIGINT NOT NULL,
  next_key TEXT COLLATE "C" NOT NULL,
  ver BIGINT NOT NULL,
  family TEXT COLLATE "C",
  methods TEXT NOT NULL DEFAULT ''
)`,
			`CREATE INDEX IF NOT EXISTS session_records_purge ON session_records (purge_ns)`,
			`CREATE INDEX IF NOT EXISTS session_records_user ON session_records (user_id)`,
			`CREATE INDEX IF NOT EXISTS session_records_family ON session_records (family) WHERE state = 0 AND family IS NOT NULL`,
			`CREATE TABLE IF NOT EXISTS session_values (
  skey TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  val BYTEA,
  PRIMARY KEY (skey, name)
)`,
			`CREATE TABLE IF NOT EXISTS session_users (
  user_id BYTEA NOT NULL PRIMARY KEY,
  gen BIGINT NOT NULL
)`,
			`CREATE TABLE IF NOT EXISTS session_cutoff (
  id SMALLINT NOT NULL PRIMARY KEY,
  cutoff_ns BIGINT NOT NULL
)`,
			`CREATE TABLE IF NOT EXISTS session_audit (
  id BIGSERIAL PRIMARY KEY,
  at BIGINT NOT NULL,
  kind TEXT NOT NULL,
  session TEXT NOT NULL,
  user_id BYTEA NOT NULL,
  ip TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  reason TEXT NOT NULL,
  target_ip TEXT NOT NULL DEFAULT '',
  target_user_agent TEXT NOT NULL DEFAULT ''
)`,
			`CREATE INDEX IF NOT EXISTS session_audit_user ON session_audit (user_id, at)`,
			`CREATE INDEX IF NOT EXISTS session_audit_at ON session_audit (at)`,
			rotateFunctionPG, endFunctionPG, endFamilyFunctionPG,
		}
	case MySQL:
		return []string{
			`CREATE TABLE IF NOT EXISTS session_records (
  skey VARBINARY(255) NOT NULL PRIMARY KEY,
  user_id VARBINARY(255) NOT NULL,
  gen BIGINT NOT NULL,
  state SMALLINT NOT NULL,
  created_ns BIGINT NOT NULL,
  seen_ns BIGINT NOT NULL,
  auth_ns BIGINT NOT NULL,
  user_agent TEXT CHARACTER SET utf8mb4 NOT NULL,
  ip VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
  idle_ns BIGINT NOT NULL,
  absolute_ns BIGINT NOT NULL,
  persist SMALLINT NOT NULL,
  linger_ns BIGINT NOT NULL,
  expires_ns BIGINT NOT NULL,
  purge_ns BIGINT NOT NULL,
  ended_ns BIGINT NOT NULL,
  next_key VARBINARY(255) NOT NULL,
  ver BIGINT NOT NULL,
  family VARBINARY(255) NULL,
  methods VARCHAR(512) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  INDEX session_records_purge (purge_ns),
  INDEX session_records_user (user_id),
  INDEX session_records_family (family, state)
) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS session_values (
  skey VARBINARY(255) NOT NULL,
  name VARBINARY(255) NOT NULL,
  val LONGBLOB,
  PRIMARY KEY (skey, name)
) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS session_users (
  user_id VARBINARY(255) NOT NULL PRIMARY KEY,
  gen BIGINT NOT NULL
) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS session_cutoff (
  id SMALLINT NOT NULL PRIMARY KEY,
  cutoff_ns BIGINT NOT NULL
) ENGINE=InnoDB`,
			`CREATE TABLE IF NOT EXISTS session_audit (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at BIGINT NOT NULL,
  kind VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
  session VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
  user_id VARBINARY(255) NOT NULL,
  ip VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
  user_agent TEXT CHARACTER SET utf8mb4 NOT NULL,
  reason TEXT CHARACTER SET utf8mb4 NOT NULL,
  target_ip VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  target_user_agent VARCHAR(1024) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  INDEX session_audit_user (user_id, at),
  INDEX session_audit_at (at)
) ENGINE=InnoDB`,
			createProcMySQL, updateProcMySQL, endProcMySQL, rotateProcMySQL, endFamilyProcMySQL,
		}
	case SQLite:
		return []string{
			`CREATE TABLE IF NOT EXISTS session_records (
  skey TEXT NOT NULL PRIMARY KEY,
  user_id TEXT NOT NULL,
  gen INTEGER NOT NULL,
  state INTEGER NOT NULL,
  created_ns INTEGER NOT NULL,
  seen_ns INTEGER NOT NULL,
  auth_ns INTEGER NOT NULL,
  user_agent TEXT NOT NULL,
  ip TEXT NOT NULL,
  idle_ns INTEGER NOT NULL,
  absolute_ns INTEGER NOT NULL,
  persist INTEGER NOT NULL,
  linger_ns INTEGER NOT NULL,
  expires_ns INTEGER NOT NULL,
  purge_ns INTEGER NOT NULL,
  ended_ns INTEGER NOT NULL,
  next_key TEXT NOT NULL,
  ver INTEGER NOT NULL,
  family TEXT,
  methods TEXT NOT NULL DEFAULT ''
)`,
			`CREATE INDEX IF NOT EXISTS session_records_purge ON session_records (purge_ns)`,
			`CREATE INDEX IF NOT EXISTS session_records_user ON session_records (user_id)`,
			`CREATE INDEX IF NOT EXISTS session_records_family ON session_records (family) WHERE state = 0 AND family IS NOT NULL`,
			`CREATE TABLE IF NOT EXISTS session_values (
  skey TEXT NOT NULL,
  name TEXT NOT NULL,
  val BLOB,
  PRIMARY KEY (skey, name)
)`,
			`CREATE TABLE IF NOT EXISTS session_users (
  user_id TEXT NOT NULL PRIMARY KEY,
  gen INTEGER NOT NULL
)`,
			`CREATE TABLE IF NOT EXISTS session_cutoff (
  id INTEGER NOT NULL PRIMARY KEY,
  cutoff_ns INTEGER NOT NULL
)`,
			`CREATE TABLE IF NOT EXISTS session_audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  kind TEXT NOT NULL,
  session TEXT NOT NULL,
  user_id TEXT NOT NULL,
  ip TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  reason TEXT NOT NULL,
  target_ip TEXT NOT NULL DEFAULT '',
  target_user_agent TEXT NOT NULL DEFAULT ''
)`,
			`CREATE INDEX IF NOT EXISTS session_audit_user ON session_audit (user_id, at)`,
			`CREATE INDEX IF NOT EXISTS session_audit_at ON session_audit (at)`,
		}
	}
	return nil
}

// migrateLock is the advisory lock key (PostgreSQL) and lock name (MySQL)
// that serializes concurrent Migrate calls.
const (
	migrateLockPG    = 7318250461
	migrateLockMySQL = "sessionkit_session_migrate"
)

// Migrate creates the store's tables and indexes when they do not exist
// (the statements of [Schema]). It is idempotent and safe to run from
// several instances at once: PostgreSQL runs it in one transaction under an
// advisory lock, MySQL under GET_LOCK, SQLite under BEGIN IMMEDIATE. On
// SQLite it also switches a file database to WAL journaling, which is
// persistent, so readers never wait for a writer.
func (s *Store) Migrate(ctx context.Context) error {
	const op = "migrate"
	if err := ctx.Err(); err != nil {
		return s.wrap(op, err)
	}
	switch s.d {
	case Postgres:
		err := s.tx(ctx, func(q querier) error {
			if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(migrateLockPG)); err != nil {
				return err
			}
			return s.migrate(ctx, q)
		})
		return s.wrap(op, err)
	case MySQL:
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return s.wrap(op, err)
		}
		defer conn.Close()
		var got int
		if err := conn.QueryRowContext(ctx, `SELECT GET_LOCK(?, 60)`, migrateLockMySQL).Scan(&got); err != nil {
			return s.wrap(op, err)
		}
		if got != 1 {
			return s.wrap(op, fmt.Errorf("could not take the migration lock %q", migrateLockMySQL))
		}
		err = s.migrate(ctx, conn)
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT RELEASE_LOCK(?)`, migrateLockMySQL)
		return s.wrap(op, err)
	default:
		err := s.withConn(ctx, func(q querier) error {
			var mode string
			return q.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		})
		if err != nil {
			return s.wrap(op, err)
		}
		return s.wrap(op, s.tx(ctx, func(q querier) error { return s.migrate(ctx, q) }))
	}
}

// migrate runs the statements of Schema under Migrate's lock, adding the
// family column to a session_records table created without it before
// anything uses the column (its index, the routines).
func (s *Store) migrate(ctx context.Context, q querier) error {
	stmts := ddl(s.d)
	if err := execAll(ctx, q, stmts[:1]); err != nil { // session_records
		return err
	}
	if err := s.addFamily(ctx, q); err != nil {
		return fmt.Errorf("adding the family column: %w", err)
	}
	if err := s.addMethods(ctx, q); err != nil {
		return fmt.Errorf("adding the methods column: %w", err)
	}
	if err := execAll(ctx, q, stmts[1:]); err != nil {
		return err
	}
	if err := s.addAuditTarget(ctx, q); err != nil {
		return fmt.Errorf("adding the audit target columns: %w", err)
	}
	return nil
}

// addAuditTarget adds the columns target_ip and target_user_agent
// (Event.TargetIP and Event.TargetUserAgent: the device a revocation ended)
// to a session_audit table created before them, with ” in the rows
// already there. Like addFamily, it looks first.
func (s *Store) addAuditTarget(ctx context.Context, q querier) error {
	var alter []string
	switch s.d {
	case Postgres:
		alter = []string{`ALTER TABLE session_audit ADD COLUMN target_ip TEXT NOT NULL DEFAULT '',
  ADD COLUMN target_user_agent TEXT NOT NULL DEFAULT ''`}
	case MySQL:
		alter = []string{`ALTER TABLE session_audit ADD COLUMN target_ip VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL DEFAULT '',
  ADD COLUMN target_user_agent VARCHAR(1024) CHARACTER SET utf8mb4 NOT NULL DEFAULT ''`}
	default:
		alter = []string{
			`ALTER TABLE session_audit ADD COLUMN target_ip TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE session_audit ADD COLUMN target_user_agent TEXT NOT NULL DEFAULT ''`,
		}
	}
	return s.addColumn(ctx, q, "session_audit", "target_ip", alter)
}

// addMethods adds the methods column (Meta.Methods) to a session_records
// table that lacks it, as addFamily adds the family column, and for the
// same reason (no release has shipped the routines) replaces in place the
// routines that write rows: on MySQL session_create_v1 and
// session_rotate_v1, on PostgreSQL the overload of session_rotate without
// p_methods.
func (s *Store) addMethods(ctx context.Context, q querier) error {
	var alter []string
	switch s.d {
	case Postgres:
		alter = []string{
			`ALTER TABLE session_records ADD COLUMN methods TEXT NOT NULL DEFAULT ''`,
			`DROP FUNCTION IF EXISTS session_rotate(text, text, bytea, boolean, integer, boolean, bigint, bigint, bigint,
  bigint, text, text, bigint, bigint, boolean, smallint, boolean, bigint, bigint, bigint, text[], text[], bytea[], text)`,
		}
	case MySQL:
		alter = []string{
			`ALTER TABLE session_records ADD COLUMN methods VARCHAR(512) CHARACTER SET utf8mb4 NOT NULL DEFAULT ''`,
			`DROP PROCEDURE IF EXISTS session_create_v1`, `DROP PROCEDURE IF EXISTS session_rotate_v1`,
		}
	default:
		alter = []string{`ALTER TABLE session_records ADD COLUMN methods TEXT NOT NULL DEFAULT ''`}
	}
	return s.addColumn(ctx, q, "session_records", "methods", alter)
}

// addFamily adds the family column (and on MySQL its index, which the
// CREATE TABLE holds) to a session_records table that lacks it. It looks
// first instead of using ADD COLUMN IF NOT EXISTS, which MySQL and SQLite
// lack and which on PostgreSQL takes the table's exclusive lock at every
// Migrate.
//
// A schema without the column was never released, so the routines
// written for it that write rows are replaced in place rather than under
// new names: on MySQL session_create_v1 and session_rotate_v1 are dropped (CREATE PROCEDURE IF NOT EXISTS
// would keep their old bodies), on PostgreSQL the old overload of
// session_rotate (CREATE OR REPLACE keeps an overload of another
// signature).
func (s *Store) addFamily(ctx context.Context, q querier) error {
	var alter []string
	switch s.d {
	case Postgres:
		alter = []string{
			`ALTER TABLE session_records ADD COLUMN family TEXT COLLATE "C"`,
			`DROP FUNCTION IF EXISTS session_rotate(text, text, bytea, boolean, integer, boolean, bigint, bigint, bigint,
  bigint, text, text, bigint, bigint, boolean, smallint, boolean, bigint, bigint, bigint, text[], text[], bytea[])`,
		}
	case MySQL:
		alter = []string{
			`ALTER TABLE session_records ADD COLUMN family VARBINARY(255) NULL, ADD INDEX session_records_family (family, state)`,
			`DROP PROCEDURE IF EXISTS session_create_v1`, `DROP PROCEDURE IF EXISTS session_rotate_v1`,
		}
	default:
		alter = []string{`ALTER TABLE session_records ADD COLUMN family TEXT`}
	}
	return s.addColumn(ctx, q, "session_records", "family", alter)
}

// addColumn runs alter when table has no column named column (the column
// it adds, or the first of them), and nothing otherwise: Migrate looks
// first instead of using ADD COLUMN IF NOT EXISTS (see addFamily).
func (s *Store) addColumn(ctx context.Context, q querier, table, column string, alter []string) error {
	var probe string
	switch s.d {
	case Postgres:
		probe = `SELECT COUNT(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped`
	case MySQL:
		probe = `SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`
	default:
		probe = `SELECT COUNT(*) FROM pragma_table_info(?) WHERE name = ?`
	}
	var n int
	if err := q.QueryRowContext(ctx, probe, table, column).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	return execAll(ctx, q, alter)
}

func execAll(ctx context.Context, q querier, stmts []string) error {
	for _, st := range stmts {
		if _, err := q.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("%.60s...: %w", st, err)
		}
	}
	return nil
}

// compile-time checks.
var (
	_ session.Store     = (*Store)(nil)
	_ session.UserIndex = (*Store)(nil)
	_ session.Rotator   = (*Store)(nil)
	_ session.Fleet     = (*Store)(nil)

	_ session.ExpiryNotifier = (*Store)(nil)
)
