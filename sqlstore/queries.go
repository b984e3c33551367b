package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkit/session"
)

// Record states (column state). A row whose state is not live is a
// tombstone: the reason its session ended.
const (
	stateLive      = 0
	stateDestroyed = 1
	stateRotated   = 2
	stateRevoked   = 3
)

// reasons maps a tombstone state to its session.Tombstone reason.
var reasons = [...]string{stateDestroyed: session.EndDestroyed, stateRotated: session.EndRotated, stateRevoked: session.EndRevoked}

// mysqlMaxLen bounds keys, user IDs, families and value names on MySQL,
// whose VARBINARY(255) columns would otherwise reject them (or, without
// strict mode, truncate them).
const mysqlMaxLen = 255

// ErrTooLong is wrapped (with [session.ErrStore]) by the error of a write
// that carries a key, user ID, family or value name longer than the
// dialect's schema holds: on MySQL, 255 bytes. The store refuses it
// rather than cut it, so that two IDs sharing a prefix never become one
// user (and the audit trail, which records every user ID it accepted
// whole, never shows one user's events to another). The Manager reports
// it as a store failure: a Login with such an ID fails, never a 2xx.
var ErrTooLong = errors.New("sqlstore: longer than the schema holds")

// recordCols are the columns of session_records in insert order.
const recordCols = "skey, user_id, gen, state, created_ns, seen_ns, auth_ns, user_agent, ip, idle_ns, absolute_ns, persist, linger_ns, expires_ns, purge_ns, ended_ns, next_key, ver, family, methods"

// metaCols are the nMeta columns a record's metadata is read from (table
// alias r).
const metaCols = "r.user_id, r.gen, r.state, r.created_ns, r.seen_ns, r.auth_ns, r.user_agent, r.ip, r.idle_ns, r.absolute_ns, r.persist, r.linger_ns, r.expires_ns, r.purge_ns, r.ended_ns, r.next_key, r.family, r.methods"

// nMeta is the number of metaCols (the first destinations of row.dest).
const nMeta = 18

// curGen is the current generation of a row's user (0 when it has none),
// as an expression on session_records (alias r).
const curGen = "COALESCE((SELECT g.gen FROM session_users g WHERE g.user_id = r.user_id), 0)"

// cutoffOf is RevokeAll's cutoff (unix nanoseconds, 0 for none): sessions
// created before it are revoked.
const cutoffOf = "COALESCE((SELECT c.cutoff_ns FROM session_cutoff c WHERE c.id = 1), 0)"

// queries holds the statements that do not depend on the request, already
// rebound for the dialect.
type queries struct {
	load, lockOld, upsertRecord, deleteValues, userGen, endOne, listUser string
	family, lockFamily                                                   string // Family's read; EndFamily's candidates (SQLite)
	upsertValue                                                          string // the ON CONFLICT clause of a values insert
	upsertRecordTail                                                     string // the ON CONFLICT clause of upsertRecord
	lockUser, lockUserBump                                               string
	revokeValues, revokeRecords, moveValues                              string
	lockRevoked                                                          string // lock the rows revokeRecords ends
}

func newQueries(d Dialect) *queries {
	r := d.rebind
	q := &queries{
		load: r(`SELECT ` + metaCols + `, ` + curGen + `, ` + cutoffOf + `, v.name, v.val FROM session_records r
 LEFT JOIN session_values v ON v.skey = r.skey WHERE r.skey = ?`),
		lockOld: r(`SELECT ` + metaCols + `, ` + curGen + `, ` + cutoffOf + ` FROM session_records r WHERE r.skey = ?` + d.forUpdate()),
		upsertRecord: r(`INSERT INTO session_records (` + recordCols + `) VALUES ` + placeholders(20, 1) +
			d.upsert("skey", "user_id", "gen", "state", "created_ns", "seen_ns", "auth_ns", "user_agent", "ip",
				"idle_ns", "absolute_ns", "persist", "linger_ns", "expires_ns", "purge_ns", "ended_ns", "next_key", "ver", "family", "methods")),
		deleteValues: r(`DELETE FROM session_values WHERE skey = ?`),
		userGen:      r(`SELECT gen FROM session_users WHERE user_id = ?`),
		// endOne turns a live row into a tombstone of the given state that
		// keeps nothing of the session but its timing and its family (a
		// renewal's tombstone takes the renewed session's; NULL keeps the
		// row's).
		endOne: r(`UPDATE session_records SET state = ?, ended_ns = ?, purge_ns = ? + linger_ns, next_key = ?,
 user_id = ?, user_agent = '', ip = '', ver = ver + 1, family = COALESCE(?, family) WHERE skey = ? AND state = 0`),
		listUser: r(`SELECT r.skey, ` + metaCols + ` FROM session_records r WHERE r.user_id = ? AND r.state = 0
 AND r.expires_ns > ? AND r.gen >= ` + curGen + ` AND r.created_ns >= ` + cutoffOf),
		revokeValues: r(`DELETE FROM session_values WHERE skey IN (SELECT skey FROM session_records
 WHERE user_id = ? AND state = 0 AND gen < ? AND skey <> ?)`),
		revokeRecords: r(`UPDATE session_records SET state = ?, ended_ns = ?, purge_ns = ? + linger_ns, next_key = '',
 user_id = ?, user_agent = '', ip = '', ver = ver + 1 WHERE user_id = ? AND state = 0 AND gen < ? AND skey <> ?`),
	}
	q.moveValues = r(`UPDATE session_values SET skey = ? WHERE skey = ?`)
	q.lockRevoked = r(`SELECT skey FROM session_records WHERE user_id = ? AND state = 0 AND gen < ? AND skey <> ?` + d.forUpdate())
	q.upsertRecordTail = d.upsert("skey", "user_id", "gen", "state", "created_ns", "seen_ns", "auth_ns", "user_agent", "ip",
		"idle_ns", "absolute_ns", "persist", "linger_ns", "expires_ns", "purge_ns", "ended_ns", "next_key", "ver", "family", "methods")
	// The live rows of a family: those whose family column names it (the
	// partial or composite family index), and the row keyed by it whose
	// family is its own key (NULL or ''; the primary key). Two branches,
	// not an OR, so that every dialect looks both up by index.
	q.family = r(`SELECT r.skey, ` + metaCols + `, ` + curGen + `, ` + cutoffOf + `, v.name, v.val FROM session_records r
 LEFT JOIN session_values v ON v.skey = r.skey WHERE r.family = ? AND r.state = 0
 UNION ALL SELECT r.skey, ` + metaCols + `, ` + curGen + `, ` + cutoffOf + `, v.name, v.val FROM session_records r
 LEFT JOIN session_values v ON v.skey = r.skey WHERE r.skey = ? AND r.state = 0 AND COALESCE(r.family, '') = ''`)
	q.lockFamily = r(`SELECT r.skey, ` + metaCols + `, ` + curGen + `, ` + cutoffOf + ` FROM session_records r
 WHERE r.family = ? AND r.state = 0
 UNION ALL SELECT r.skey, ` + metaCols + `, ` + curGen + `, ` + cutoffOf + ` FROM session_records r
 WHERE r.skey = ? AND r.state = 0 AND COALESCE(r.family, '') = ''`)
	q.upsertValue = d.upsert("skey, name", "val")
	switch d {
	case MySQL:
		// ON DUPLICATE KEY UPDATE locks the row; without RETURNING, the
		// generation comes back as the statement's LAST_INSERT_ID.
		q.lockUser = `INSERT INTO session_users (user_id, gen) VALUES (?, 0) ON DUPLICATE KEY UPDATE gen = LAST_INSERT_ID(gen)`
		q.lockUserBump = `INSERT INTO session_users (user_id, gen) VALUES (?, 1) ON DUPLICATE KEY UPDATE gen = LAST_INSERT_ID(gen + 1)`
	default:
		// One statement: the upsert locks the row and returns the generation.
		q.lockUser = r(`INSERT INTO session_users (user_id, gen) VALUES (?, 0) ON CONFLICT (user_id) DO UPDATE SET gen = session_users.gen RETURNING gen`)
		q.lockUserBump = r(`INSERT INTO session_users (user_id, gen) VALUES (?, 1) ON CONFLICT (user_id) DO UPDATE SET gen = session_users.gen + 1 RETURNING gen`)
	}
	return q
}

// row is a session_records row as read by load and lockOld.
type row struct {
	user                            []byte
	gen, state, created, seen, auth int64
	ua, ip                          string
	idle, abs, persist, linger      int64
	expires, purge, ended           int64
	next                            string
	family                          sql.NullString // NULL: the row's own key
	methods                         string
	cur                             int64 // the user's current generation
	cutoff                          int64 // RevokeAll's cutoff
}

func (w *row) dest() []any {
	return []any{&w.user, &w.gen, &w.state, &w.created, &w.seen, &w.auth, &w.ua, &w.ip, &w.idle, &w.abs,
		&w.persist, &w.linger, &w.expires, &w.purge, &w.ended, &w.next, &w.family, &w.methods, &w.cur, &w.cutoff}
}

// meta converts the row's metadata.
func (w *row) meta() session.Meta {
	return session.Meta{
		UserID: string(w.user), Generation: uint64(w.gen),
		CreatedAt: timeOf(w.created), LastSeen: timeOf(w.seen), AuthenticatedAt: timeOf(w.auth),
		UserAgent: w.ua, IP: w.ip,
		IdleTimeout: time.Duration(w.idle), AbsoluteTimeout: time.Duration(w.abs), Persist: w.persist != 0,
		Linger: time.Duration(w.linger), Expires: timeOf(w.expires), Family: w.family.String, Methods: w.methods,
	}
}

// check returns nil when the row is a live, current session at now, and
// otherwise the error a Load reports: its Tombstone while it lingers,
// plain ErrNotFound after. A row the store could not have written is
// ErrStore.
func (w *row) check(now int64) error {
	if w.state < stateLive || w.state > stateRevoked || w.gen < 0 || w.cur < 0 || w.linger < 0 {
		return corruptRow("state")
	}
	switch {
	case w.state != stateLive:
		if now < w.purge {
			t := &session.Tombstone{Reason: reasons[w.state], At: timeOf(w.ended), Next: w.next}
			if w.state == stateRotated {
				// The renewed session's family: the Manager asks for its
				// live record (Store.Family) instead of following Next.
				t.Family = w.family.String
			}
			return t
		}
		return session.ErrNotFound
	case now >= w.expires:
		// Not w.purge: an Update leaves it up to purgeSlack later.
		if now < w.expires+max(w.linger, 0) {
			return &session.Tombstone{Reason: session.EndExpired, At: timeOf(w.expires), Meta: session.Meta{
				CreatedAt: timeOf(w.created), LastSeen: timeOf(w.seen),
				IdleTimeout: time.Duration(w.idle), AbsoluteTimeout: time.Duration(w.abs),
			}}
		}
		return session.ErrNotFound
	case len(w.user) > 0 && w.gen < w.cur, w.created < w.cutoff:
		return &session.Tombstone{Reason: session.EndRevoked}
	}
	return nil
}

// recordArgs returns the insert arguments of a live record.
func (s *Store) recordArgs(key string, m *session.Meta, gen uint64) []any {
	exp := ns(m.Expires)
	persist := 0
	if m.Persist {
		persist = 1
	}
	return []any{key, s.userArg(m.UserID), int64(gen), stateLive, ns(m.CreatedAt), ns(m.LastSeen), ns(m.AuthenticatedAt),
		m.UserAgent, m.IP, int64(m.IdleTimeout), int64(m.AbsoluteTimeout), persist, lingerNs(m.Linger),
		exp, exp + lingerNs(m.Linger), int64(0), "", int64(0), familyArg(key, m.Family), m.Methods}
}

// familyArg is the family column of a live row under key: NULL when the
// family is the key itself ("" or key), so that a session never renewed
// stays out of the family index and is found by its primary key.
func familyArg(key, family string) any {
	if family == "" || family == key {
		return nil
	}
	return family
}

// familyOf is the family of a record stored under key: its Meta.Family,
// or the key itself.
func familyOf(key, family string) string {
	if family == "" {
		return key
	}
	return family
}

// userArg is a user ID as a query argument: bytes for PostgreSQL's BYTEA.
func (s *Store) userArg(u string) any {
	if s.d == Postgres {
		return []byte(u)
	}
	return u
}

// checkLen refuses, on MySQL, strings longer than its columns hold, with
// an error wrapping ErrTooLong.
func (s *Store) checkLen(what string, v string) error {
	if s.d == MySQL && len(v) > mysqlMaxLen {
		return fmt.Errorf("%w: %s of %d bytes (the MySQL schema holds %d)", ErrTooLong, what, len(v), mysqlMaxLen)
	}
	return nil
}

// ns returns t as unix nanoseconds, 0 for the zero time.
func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// timeOf is the inverse of ns.
func timeOf(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// affected returns the rows a statement changed.
func affected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// lingerNs returns a linger as stored: nanoseconds, a negative one as
// none (a row with a negative linger_ns is one the store never writes,
// read as corrupt).
func lingerNs(d time.Duration) int64 { return int64(max(d, 0)) }
