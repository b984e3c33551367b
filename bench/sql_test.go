package bench

// Side-by-side benchmarks on real SQL servers started for the run
// (internal/pgtest, internal/mysqltest): this library's sqlstore against
// scs's postgresstore (database/sql on pgx's stdlib), pgxstore (pgxpool)
// and mysqlstore, all on the same server, with one-statement floors.
//
//	Postgres/{ReadOnly,Write,Login,Renew}/{ours,scs-postgresstore,scs-pgxstore}
//	MySQL/{ReadOnly,Write,Login,Renew}/{ours,scs-mysqlstore}
//	{Postgres,MySQL}/Floor/{SELECT,UPSERT}

import (
	"context"
	"database/sql"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/v2"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/mysqltest"
	"github.com/sessionkit/session/internal/pgtest"
	"github.com/sessionkit/session/sqlstore"
)

// sqlOurs is this library on an sqlstore.Store with the schema migrated.
func sqlOurs(db *sql.DB, d sqlstore.Dialect) lib {
	l := oursLib(func(b *testing.B) session.Store {
		st, err := sqlstore.New(db, d, sqlstore.WithReapInterval(0))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		if err := st.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		return st
	})
	return l
}

// live gives each request a context that can be cancelled, as net/http's
// server does (cancelled when the client goes away or the handler
// returns). The drivers watch such a context during each query (pgx with
// a goroutine per query), which a bare httptest request's background
// context skips: without this, the benchmark measures neither library as
// it runs behind a real server.
func live(l lib) lib {
	wrap := l.wrap
	l.wrap = func(b *testing.B, h http.Handler) http.Handler { return liveHandler(wrap(b, h)) }
	return l
}

// liveHandler is h with a cancellable context per request (see live).
func liveHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// sqlFloors measures one SELECT and one upsert of a 200-byte value.
func sqlFloors(b *testing.B, db *sql.DB, sel, upsert string) {
	b.Run("Floor", func(b *testing.B) {
		b.Run("SELECT", func(b *testing.B) {
			h := liveHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var v []byte
				if err := db.QueryRowContext(r.Context(), sel, "floor").Scan(&v); err != nil {
					panic(err)
				}
				_, _ = w.Write(body)
			}))
			serve(b, h, httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
		})
		b.Run("UPSERT", func(b *testing.B) {
			h := liveHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := db.ExecContext(r.Context(), upsert, "floor", make([]byte, 200)); err != nil {
					panic(err)
				}
				_, _ = w.Write(body)
			}))
			serve(b, h, httptest.NewRequest(http.MethodGet, "https://example.com/", nil))
		})
	})
}

// BenchmarkPostgres compares the libraries on one real PostgreSQL server.
func BenchmarkPostgres(b *testing.B) {
	srv := pgtest.Start(b)
	db, err := sql.Open("pgx", srv.DSN())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL, expiry TIMESTAMPTZ NOT NULL)`,
		`CREATE INDEX IF NOT EXISTS sessions_expiry_idx ON sessions (expiry)`,
		`CREATE TABLE IF NOT EXISTS floor (k TEXT PRIMARY KEY, v BYTEA NOT NULL)`,
		`INSERT INTO floor VALUES ('floor', '') ON CONFLICT DO NOTHING`,
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	pool, err := pgxpool.New(context.Background(), srv.DSN())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	sqlFloors(b, db, `SELECT v FROM floor WHERE k = $1`,
		`INSERT INTO floor (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = excluded.v`)
	postgres := scsLib(func(*testing.B) scs.Store { return postgresstore.NewWithCleanupInterval(db, 0) })
	postgres.name = "scs-postgresstore"
	pgx := scsLib(func(*testing.B) scs.Store { return pgxstore.NewWithCleanupInterval(pool, 0) })
	pgx.name = "scs-pgxstore"
	libs := []lib{live(sqlOurs(db, sqlstore.Postgres)), live(postgres), live(pgx)}
	scenarios(b, libs)
	b.Run("Renew", func(b *testing.B) {
		for _, l := range libs {
			b.Run(l.name, func(b *testing.B) { renewals(b, l) })
		}
	})
}

// BenchmarkMySQL compares the libraries on one real MariaDB server.
func BenchmarkMySQL(b *testing.B) {
	srv := mysqltest.Start(b)
	db, err := sql.Open("mysql", srv.DSN())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	db.SetMaxIdleConns(8)
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS sessions (token CHAR(43) PRIMARY KEY, data BLOB NOT NULL, expiry TIMESTAMP(6) NOT NULL, INDEX sessions_expiry_idx (expiry))`,
		`CREATE TABLE IF NOT EXISTS floor (k VARCHAR(16) PRIMARY KEY, v BLOB NOT NULL)`,
		`INSERT IGNORE INTO floor VALUES ('floor', '')`,
	} {
		if _, err := db.Exec(q); err != nil {
			b.Fatal(err)
		}
	}
	sqlFloors(b, db, `SELECT v FROM floor WHERE k = ?`,
		`INSERT INTO floor (k, v) VALUES (?, ?) ON DUPLICATE KEY UPDATE v = VALUES(v)`)
	mysql := scsLib(func(*testing.B) scs.Store { return mysqlstore.NewWithCleanupInterval(db, 0) })
	mysql.name = "scs-mysqlstore"
	libs := []lib{live(sqlOurs(db, sqlstore.MySQL)), live(mysql)}
	scenarios(b, libs)
	b.Run("Renew", func(b *testing.B) {
		for _, l := range libs {
			b.Run(l.name, func(b *testing.B) { renewals(b, l) })
		}
	})
}

// renewals serves b.N requests that each renew the ID of a logged-in
// session holding a value (Renew; scs: RenewToken), following the new
// cookie each time: the renewal of a stored session.
func renewals(b *testing.B, l lib) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", l.login)
	mux.HandleFunc("POST /renew", l.renew)
	h := l.wrap(b, mux)
	cookie := loggedIn(b, l, h)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "https://example.com/renew", nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		for _, c := range rec.Result().Cookies() {
			if c.Name == l.cookie && c.Value != "" {
				cookie = c.Name + "=" + c.Value
			}
		}
	}
}
