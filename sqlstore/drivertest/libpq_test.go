package drivertest

import (
	"database/sql"
	"testing"

	_ "github.com/lib/pq"
	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/pgtest"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
)

// TestConformanceLibPQ runs the suite on PostgreSQL through a second
// driver, lib/pq: the store needs nothing driver-specific.
func TestConformanceLibPQ(t *testing.T) {
	srv := pgtest.Start(t)
	db, err := sql.Open("postgres", srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	migrate(t, db, sqlstore.Postgres)
	storetest.Run(t, func(t *testing.T) session.Store { return withoutFleet(newStore(t, db, sqlstore.Postgres)) })
}
