package drivertest

import (
	"context"
	"database/sql"
	"errors"
	"testing"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/sqlstore"
	"github.com/sessionkit/session/storetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConformance runs the public store conformance suite on each backend.
// Its stores share one database, so Fleet (whose RevokeAll reaches every
// session in it) is checked by TestFleet on a database of its own.
func TestConformance(t *testing.T) {
	forEach(t, func(t *testing.T, b backend, db *sql.DB, _ *server) {
		storetest.Run(t, func(t *testing.T) session.Store { return withoutFleet(newStore(t, db, b.d)) })
	})
}

// withoutFleet hides the store's Fleet methods.
func withoutFleet(st *sqlstore.Store) session.Store {
	return struct {
		session.Store
		session.UserIndex
		session.Rotator
	}{st, st, st}
}

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
		assert.False(t, errors.Is(err, session.ErrStore))
	})
}
