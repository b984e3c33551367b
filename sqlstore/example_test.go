package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"strings"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
)

// A store on PostgreSQL with the audit trail on. The driver is the
// application's: here pgx's stdlib, registered as "pgx".
func Example() {
	open := func() (*sql.DB, error) { return sql.Open("pgx", "postgres://app@127.0.0.1/app") }
	_ = func(ctx context.Context) error {
		db, err := open()
		if err != nil {
			return err
		}
		st, err := sqlstore.New(db, sqlstore.Postgres)
		if err != nil {
			return err
		}
		defer st.Close()
		if err := st.Migrate(ctx); err != nil {
			return err
		}
		m, err := session.New(session.Config{Store: st, OnEvent: st.Audit})
		if err != nil {
			return err
		}
		defer m.Close()
		log.Println("serving") // http.ListenAndServe(addr, m.Handler(mux))
		return nil
	}
}

// The DDL, for teams that run migrations with their own tool.
func ExampleSchema() {
	ddl := sqlstore.Schema(sqlstore.SQLite)
	fmt.Println(strings.SplitN(ddl, "\n", 2)[0])
	fmt.Println(strings.Count(ddl, ";\n"), "statements")
	// Output:
	// CREATE TABLE IF NOT EXISTS session_records (
	// 10 statements
}
