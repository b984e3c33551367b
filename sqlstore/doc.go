// Package sqlstore is a [session.Store] on PostgreSQL, MySQL/MariaDB or
// SQLite through database/sql. It imports no driver: bring your own (pgx's
// stdlib, go-sql-driver/mysql, modernc.org/sqlite, ...) with a plain DSN.
//
//	db, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
//	st, err := sqlstore.New(db, sqlstore.Postgres)
//	if err != nil { ... }
//	defer st.Close()
//	if err := st.Migrate(ctx); err != nil { ... } // or apply sqlstore.Schema(sqlstore.Postgres) yourself
//	m, err := session.New(session.Config{Store: st, OnEvent: st.Audit})
//
// The store keeps every promise of the memory and Redis stores, checked by
// [github.com/sessionkit/session/storetest] against real servers: keys are
// hashes of tokens (a dump hands out no live session); a request's changes
// merge per value name in one transaction that applies only while the
// session is live and its user's generation current (no lost update, no
// resurrection); renewal, revocation and the per-user cap are atomic
// ([session.Rotator], [session.UserIndex]); an ended session leaves a
// tombstone for its Meta.Linger; everyone's sessions can be revoked at once
// ([session.Fleet]). A read-only request costs one SELECT, every write one
// statement or one call of a server-side function (PostgreSQL) or stored
// procedure (MySQL), which [Store.Migrate] creates.
//
// A background reaper deletes expired rows in bounded batches; [Store.Audit]
// writes security events to the append-only session_audit table through a
// bounded queue with batched inserts.
package sqlstore
