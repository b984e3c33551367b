package sqlstore

import (
	"strconv"
	"strings"
)

// Dialect names the SQL database a [Store] talks to. The SQL it sends
// differs in placeholders, upserts, locking clauses and column types.
type Dialect int

// The supported dialects.
const (
	// Postgres is PostgreSQL 12 or later (driver: pgx's stdlib, lib/pq).
	Postgres Dialect = iota + 1
	// MySQL is MariaDB 10.6 or later, or MySQL 8.0.29 or later (driver:
	// go-sql-driver/mysql). No DSN option is needed. Migrate creates
	// stored procedures (JSON_TABLE, CREATE PROCEDURE IF NOT EXISTS): the
	// database user needs the CREATE ROUTINE privilege to migrate and
	// EXECUTE to run. Tested against MariaDB 10.11.
	MySQL
	// SQLite is SQLite 3.35 or later (driver: modernc.org/sqlite or
	// mattn/go-sqlite3). No DSN pragma is needed: see [New].
	SQLite
)

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case MySQL:
		return "mysql"
	case SQLite:
		return "sqlite"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

func (d Dialect) valid() bool { return d >= Postgres && d <= SQLite }

// rebind turns the ? placeholders of q into $1, $2, ... for PostgreSQL.
// The queries of this package contain no ? in literals.
func (d Dialect) rebind(q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// forUpdate is the row-locking suffix of a SELECT (SQLite locks the whole
// database at BEGIN IMMEDIATE instead).
func (d Dialect) forUpdate() string {
	if d == SQLite {
		return ""
	}
	return " FOR UPDATE"
}

// upsert returns the clause that makes an INSERT replace the columns cols of
// the row with the same conflict key.
func (d Dialect) upsert(conflict string, cols ...string) string {
	var b strings.Builder
	if d == MySQL {
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c + " = VALUES(" + c + ")")
		}
		return b.String()
	}
	b.WriteString(" ON CONFLICT (" + conflict + ") DO UPDATE SET ")
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = excluded." + c)
	}
	return b.String()
}

// placeholders returns "(?, ?, ...)" with n marks, repeated rows times and
// separated by commas: the VALUES of a multi-row INSERT.
func placeholders(n, rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(row+", ", rows), ", ")
}

// list returns "?, ?, ..." with n marks, for an IN list.
func list(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }
