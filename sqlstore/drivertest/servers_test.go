package drivertest

import (
	"database/sql"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/sessionkit/session/internal/mysqltest"
	"github.com/sessionkit/session/internal/pgtest"
	"github.com/sessionkit/session/sqlstore"
)

// backend is a database the tests run against.
type backend struct {
	name string
	d    sqlstore.Dialect
	open func(t testing.TB) (*sql.DB, *server)
}

// server is a real server a test may kill connections of.
type server struct {
	pg    *pgtest.Server
	maria *mysqltest.Server
	path  string // SQLite file
}

var backends = []backend{
	{"PostgreSQL", sqlstore.Postgres, openPostgres},
	{"MariaDB", sqlstore.MySQL, openMariaDB},
	{"SQLiteFile", sqlstore.SQLite, func(t testing.TB) (*sql.DB, *server) {
		db, path := sqliteFile(t)
		return db, &server{path: path}
	}},
	{"SQLiteMemory", sqlstore.SQLite, func(t testing.TB) (*sql.DB, *server) { return sqliteMemory(t), nil }},
}

// forEach runs fn as a subtest on every backend, with the schema migrated.
func forEach(t *testing.T, fn func(t *testing.T, b backend, db *sql.DB, srv *server)) {
	forSome(t, func(backend) bool { return true }, fn)
}

// forSome is forEach on the backends that keep says.
func forSome(t *testing.T, keep func(backend) bool, fn func(t *testing.T, b backend, db *sql.DB, srv *server)) {
	for _, b := range backends {
		if !keep(b) {
			continue
		}
		t.Run(b.name, func(t *testing.T) {
			db, srv := b.open(t)
			migrate(t, db, b.d)
			fn(t, b, db, srv)
		})
	}
}

func openPostgres(t testing.TB) (*sql.DB, *server) {
	t.Helper()
	srv := pgtest.Start(t)
	return open(t, "pgx", srv.DSN()), &server{pg: srv}
}

func openMariaDB(t testing.TB) (*sql.DB, *server) {
	t.Helper()
	srv := mysqltest.Start(t)
	return open(t, "mysql", srv.DSN()), &server{maria: srv}
}

// open opens dsn with driver, closed at the end of the test.
func open(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// servers selects the backends with a server process.
func servers(b backend) bool { return b.d != sqlstore.SQLite }

// files selects the backends with a second connection to the same
// database (all but SQLite in memory).
func files(b backend) bool { return b.name != "SQLiteMemory" }

// pause freezes the server (PostgreSQL or MariaDB) until resume or the end
// of the test.
func (s *server) pause(t *testing.T) {
	if s.pg != nil {
		s.pg.Pause(t)
	} else {
		s.maria.Pause(t)
	}
}

func (s *server) resume() {
	if s.pg != nil {
		s.pg.Resume()
	} else {
		s.maria.Resume()
	}
}
