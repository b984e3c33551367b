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

// TestRoundTrips holds each kind of request to its round-trip budget on
// the servers, counted by a proxy in front of them: a read is one SELECT,
// every write one statement or procedure call after it (MySQL's fixed
// statements are prepared once per connection), a login one, whether it
// creates, evicts under the cap or not. A logout is three: the load, the
// delete and the check that no other tab renewed the ID meanwhile.
func TestRoundTrips(t *testing.T) {
	budget := map[string]float64{"login": 1, "read": 1, "write": 2, "renew": 2, "logout": 3}
	for _, tc := range []struct {
		name string
		d    sqlstore.Dialect
		open func(t *testing.T) (*sql.DB, *proctest.TurnProxy)
	}{
		{"PostgreSQL", sqlstore.Postgres, func(t *testing.T) (*sql.DB, *proctest.TurnProxy) {
			srv := pgtest.Start(t)
			p := proctest.Proxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port)))
			return open(t, "pgx", "postgres://postgres@"+p.Addr+"/postgres?sslmode=disable"), p
		}},
		{"MariaDB", sqlstore.MySQL, func(t *testing.T) (*sql.DB, *proctest.TurnProxy) {
			srv := mysqltest.Start(t)
			p := proctest.Proxy(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port)))
			return open(t, "mysql", "root@tcp("+p.Addr+")/test"), p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, p := tc.open(t)
			migrate(t, db, tc.d)
			for _, cfg := range []struct {
				name string
				c    session.Config
				user func(i int) string
			}{
				{"plain", session.Config{}, func(i int) string { return fmt.Sprint("plain-", i) }},
				{"cap", session.Config{MaxSessionsPerUser: 3}, func(i int) string { return fmt.Sprint("cap-", i) }},
				// Every login evicts the one before it.
				{"evicting", session.Config{MaxSessionsPerUser: 1}, func(int) string { return "evicted" }},
			} {
				st := newStore(t, db, tc.d, sqlstore.WithReapInterval(0))
				a := newApp(t, st, nil, cfg.c)
				const n = 20
				var cs [n + 1]*client
				count := func(what string, fn func(c *client) int) {
					t.Helper()
					fn(cs[0]) // warm the pool's connection and its prepared statements
					before := p.Turns()
					for i := range n {
						if code := fn(cs[i+1]); code != 200 {
							t.Fatalf("%s %s: status %d", cfg.name, what, code)
						}
					}
					got := float64(p.Turns()-before) / n
					t.Logf("%s %s: %.2f round trips", cfg.name, what, got)
					if got > budget[what] {
						t.Errorf("%s %s: %.2f round trips, budget %v", cfg.name, what, got, budget[what])
					}
				}
				for i := range cs {
					cs[i] = a.client(t, "ua")
				}
				i := 0
				count("login", func(c *client) int {
					i++
					code, _ := c.post("/login?u=" + cfg.user(i))
					return code
				})
				if cfg.name == "evicting" {
					continue // the others' sessions are gone
				}
				count("read", func(c *client) int { code, _ := c.get("/get?k=a"); return code })
				count("write", func(c *client) int { code, _ := c.post("/set?k=a&v=1"); return code })
				count("renew", func(c *client) int { code, _ := c.post("/renew"); return code })
				count("logout", func(c *client) int { code, _ := c.post("/logout"); return code })
			}
		})
	}
}
