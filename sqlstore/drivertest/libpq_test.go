package drivertest

import (
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
	db := open(t, "postgres", srv.DSN())
	migrate(t, db, sqlstore.Postgres)
	storetest.Run(t, func(t *testing.T) session.Store { return withoutFleet(newStore(t, db, sqlstore.Postgres)) })
}
