package drivertest

import (
	"database/sql"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/mysqltest"
	"github.com/sessionkit/session/internal/pgtest"
	"github.com/sessionkit/session/internal/proctest"
	"github.com/sessionkit/session/sqlstore"
)

// TestRoundTrips counts the network round trips of each kind of request
// through a proxy in front of the real server.
func TestRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    sqlstore.Dialect
		open func(t *testing.T) (*sql.DB, *proctest.TurnProxy)
	}{
		{"PostgreSQL", sqlstore.Postgres, func(t *testing.T) (*sql.DB, *proctest.TurnProxy) {
			srv := pgtest.Start(t)
			p := proctest.Proxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port)))
			_, port, _ := net.SplitHostPort(p.Addr)
			db, err := sql.Open("pgx", "postgres://postgres@127.0.0.1:"+port+"/postgres?sslmode=disable")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, p
		}},
		{"MariaDB", sqlstore.MySQL, func(t *testing.T) (*sql.DB, *proctest.TurnProxy) {
			srv := mysqltest.Start(t)
			p := proctest.Proxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port)))
			db, err := sql.Open("mysql", "root@tcp("+p.Addr+")/test")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, p := tc.open(t)
			migrate(t, db, tc.d)
			for _, cfg := range []struct {
				name string
				c    session.Config
			}{{"plain", session.Config{}}, {"cap", session.Config{MaxSessionsPerUser: 3}}} {
				st := newStore(t, db, tc.d, sqlstore.WithReapInterval(0))
				a := newApp(t, st, nil, cfg.c)
				const n = 20
				count := func(what string, fn func(i int)) {
					fn(-1) // warm the pool's connections
					before := p.Turns()
					for i := range n {
						fn(i)
					}
					t.Logf("%s %s: %.2f round trips", cfg.name, what, float64(p.Turns()-before)/n)
				}
				var cs [n + 1]*client
				count("login", func(i int) {
					cs[i+1] = a.client(t, "ua")
					cs[i+1].post(fmt.Sprint("/login?u=user", i%2))
				})
				count("read", func(i int) { cs[i+1].get("/get?k=a") })
				count("write", func(i int) { cs[i+1].post("/set?k=a&v=1") })
				count("renew", func(i int) { cs[i+1].post("/renew") })
				count("logout", func(i int) { cs[i+1].post("/logout") })
			}
		})
	}
}
