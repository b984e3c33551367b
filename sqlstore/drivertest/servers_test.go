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
}

var backends = []backend{
	{"PostgreSQL", sqlstore.Postgres, openPostgres},
	{"MariaDB", sqlstore.MySQL, openMariaDB},
	{"SQLiteFile", sqlstore.SQLite, func(t testing.TB) (*sql.DB, *server) { return sqliteFile(t), nil }},
	{"SQLiteMemory", sqlstore.SQLite, func(t testing.TB) (*sql.DB, *server) { return sqliteMemory(t), nil }},
}

// forEach runs fn as a subtest on every backend, with the schema migrated.
func forEach(t *testing.T, fn func(t *testing.T, b backend, db *sql.DB, srv *server)) {
	for _, b := range backends {
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
	db, err := sql.Open("pgx", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, &server{pg: srv}
}

func openMariaDB(t testing.TB) (*sql.DB, *server) {
	t.Helper()
	srv := mysqltest.Start(t)
	db, err := sql.Open("mysql", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, &server{maria: srv}
}
