package drivertest

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	_ "modernc.org/sqlite"
)

// sqliteFile opens a SQLite database file in a temporary directory.
func sqliteFile(t testing.TB) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// sqliteMemory opens a private in-memory SQLite database: one connection,
// as the package documentation asks.
func sqliteMemory(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestSQLiteMemoryUnpinned: a ":memory:" database opened without
// SetMaxOpenConns(1) still works: New pins the pool to one connection.
func TestSQLiteMemoryUnpinned(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	migrate(t, db, sqlstore.SQLite)
	storetest.Run(t, func(t *testing.T) session.Store { return withoutFleet(newStore(t, db, sqlstore.SQLite)) })
}
