package drivertest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/sessionkit/session/sqlstore"
)

// migrate creates the schema in db.
func migrate(t testing.TB, db *sql.DB, d sqlstore.Dialect) {
	t.Helper()
	st, err := sqlstore.New(db, d, sqlstore.WithReapInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}

// newStore returns a store on db, closed at the end of the test.
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.New(db, d, append([]sqlstore.Option{sqlstore.WithReapInterval(200 * time.Millisecond)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}
