package drivertest

import (
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/mysqltest"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
)

// TestConformanceMySQLDSNOptions runs the suite on MariaDB through a DSN
// with the options users turn on: client-side interpolation (the
// procedures' calls go as text, not prepared) and found-rows counting
// (ROW_COUNT() semantics the procedures rely on).
func TestConformanceMySQLDSNOptions(t *testing.T) {
	srv := mysqltest.Start(t)
	db := open(t, "mysql", srv.DSN()+"?interpolateParams=true&clientFoundRows=true")
	migrate(t, db, sqlstore.MySQL)
	storetest.Run(t, func(t *testing.T) session.Store { return withoutFleet(newStore(t, db, sqlstore.MySQL)) })
}
