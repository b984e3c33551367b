package drivertest

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFleet: the Fleet contract on an empty database, then through a real
// Manager: RevokeAll logs every user and anonymous visitor out at once, a
// login afterwards works, CountSessions counts the live sessions.
func TestFleet(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		storetest.RunFleet(t, newStore(t, db, b.d))
		_, err := db.Exec(`DELETE FROM session_cutoff`)
		require.NoError(t, err)

		a := newApp(t, newStore(t, db, b.d), nil, session.Config{})
		ctx := context.Background()
		var clients []*client
		for _, u := range []string{"ada", "grace", "edsger"} {
			c := a.client(t, u)
			code, _ := c.post("/login?u=" + u)
			require.Equal(t, 200, code)
			clients = append(clients, c)
		}
		anon := a.client(t, "anonymous")
		code, _ := anon.post("/set?k=cart&v=1")
		require.Equal(t, 200, code)
		n, err := a.m.CountSessions(ctx)
		require.NoError(t, err)
		base := n
		assert.GreaterOrEqual(t, n, 4)

		require.NoError(t, a.m.RevokeAll(ctx))
		for _, c := range clients {
			_, body := c.get("/whoami")
			assert.Empty(t, body, "%s is still logged in after RevokeAll", c.ua)
		}
		_, body := anon.get("/get?k=cart")
		assert.Empty(t, body, "an anonymous session survived RevokeAll")
		n, err = a.m.CountSessions(ctx)
		require.NoError(t, err)
		assert.Less(t, n, base, "revoked sessions are not counted")

		code, _ = clients[0].post("/login?u=ada")
		require.Equal(t, 200, code, "a login after RevokeAll works")
		_, body = clients[0].get("/whoami")
		assert.Equal(t, "ada", body)
		code, _ = clients[0].post("/renew")
		require.Equal(t, 200, code, "a session created after RevokeAll renews")
		_, body = clients[0].get("/whoami")
		assert.Equal(t, "ada", body)
	})
}

// TestFleetRaces: RevokeAll wins against requests in flight. With a hook
// it lands between a renewal's load and its store step; then, on the real
// servers for many rounds, it races renewals and writes of every client:
// once it returned, no session created before it is live.
func TestFleetRaces(t *testing.T) {
	forSome(t, files, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		hs := &hookStore{Store: newStore(t, db, b.d)}
		a := newApp(t, hs, nil, session.Config{})
		ctx := context.Background()

		c := a.client(t, "ua")
		code, _ := c.post("/login?u=hooked")
		require.Equal(t, 200, code)
		hs.beforeRotate = func() {
			hs.beforeRotate = nil
			require.NoError(t, a.m.RevokeAll(ctx))
		}
		c.post("/renew")
		_, body := c.get("/whoami")
		assert.Empty(t, body, "a renewal carried a session across RevokeAll")

		for round := range 8 {
			var clients []*client
			for i := range 6 {
				c := a.client(t, "ua")
				code, _ := c.post(fmt.Sprintf("/login?u=r%d-%d", round, i%3))
				require.Equal(t, 200, code)
				clients = append(clients, c)
			}
			var wg sync.WaitGroup
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.post("/renew")
					c.post("/set?k=a&v=1")
				}()
			}
			require.NoError(t, a.m.RevokeAll(ctx))
			wg.Wait()
			for i, c := range clients {
				_, body := c.get("/whoami")
				assert.Empty(t, body, "round %d: client %d is logged in after RevokeAll", round, i)
			}
			for u := range 3 {
				devices, err := a.m.Sessions(ctx, fmt.Sprintf("r%d-%d", round, u))
				require.NoError(t, err)
				assert.Empty(t, devices, "round %d: a revoked session is listed", round)
			}
		}
	})
}

// TestFleetFaults: RevokeAll on a dead server is an error wrapping
// ErrStore (never a silent success); a cutoff row the store did not write
// fails closed.
func TestFleetFaults(t *testing.T) {
	forSome(t, servers, func(t *testing.T, b backend, db *sql.DB, srv *server) {
		st := newStore(t, db, b.d)
		ctx := context.Background()
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, storetest.Record(time.Hour, nil)))

		// A cutoff far in the future: every session is revoked, none is
		// live by mistake.
		_, err := db.Exec(rebind(b.d, `INSERT INTO session_cutoff (id, cutoff_ns) VALUES (1, ?)`), int64(1)<<62)
		require.NoError(t, err)
		_, err = st.Load(ctx, k)
		require.ErrorIs(t, err, session.ErrNotFound, "a session loads under a cutoff past its creation")
		n, err := st.Count(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)

		if srv.pg != nil {
			srv.pg.Kill()
		} else {
			srv.maria.Kill()
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		err = st.RevokeAll(cctx, time.Now())
		require.Error(t, err, "RevokeAll on a dead server reported success")
		assert.ErrorIs(t, err, session.ErrStore)
		_, err = st.Count(cctx)
		assert.ErrorIs(t, err, session.ErrStore)
	})
}

// TestFleetCorruptCutoff: on SQLite, whose columns take any type, a
// cutoff that is not a number makes every load an error (ErrStore), not a
// live session.
func TestFleetCorruptCutoff(t *testing.T) {
	forSome(t, func(b backend) bool { return b.d == sqlstore.SQLite }, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		st := newStore(t, db, b.d)
		ctx := context.Background()
		k := storetest.Key()
		require.NoError(t, st.Create(ctx, k, storetest.Record(time.Hour, nil)))
		_, err := db.Exec(`INSERT INTO session_cutoff (id, cutoff_ns) VALUES (1, 'yesterday')`)
		require.NoError(t, err)
		_, err = st.Load(ctx, k)
		assert.ErrorIs(t, err, session.ErrStore)
		assert.NotErrorIs(t, err, session.ErrNotFound)
	})
}
