package session_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
)

// The revocation list of a CookieStore takes the durable path of every
// write that ends sessions: with WithDurability and the only replica
// frozen, RevokeUser and RevokeOthers fail (a failover could undo them)
// instead of reporting success; once the replica answers they succeed.
func TestCookieStoreRevocationDurability(t *testing.T) {
	primary := redistest.StartServer(t)
	replica := redistest.StartReplica(t, primary)
	list := session.NewRedisStore(primary.Client(t), session.WithKeyPrefix(randomPrefix()),
		session.WithDurability(1, 200*time.Millisecond))
	app := cookieApp()
	var revokeErr error
	app.HandleFunc("POST /others", func(w http.ResponseWriter, r *http.Request) {
		revokeErr = session.FromContext(r.Context()).RevokeOthers(r.Context())
		if revokeErr != nil {
			http.Error(w, "error", http.StatusInternalServerError)
		}
	})
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t)).WithRevocations(list)}, app)
	a, b := e.client(), e.client()
	a.post("/login?u=kim")
	b.post("/login?u=kim")
	ctx := context.Background()

	replica.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			replica.Thaw()
		}
	}()
	// RevokeOthers first: the failed write still reaches the primary, and
	// revokes a.
	res, _ := a.post("/others")
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	require.ErrorIs(t, revokeErr, session.ErrStore, "RevokeOthers no replica acknowledged reported success")
	err := e.m.RevokeUser(ctx, "kim")
	require.ErrorIs(t, err, session.ErrStore, "a revocation no replica acknowledged reported success")
	assert.ErrorContains(t, err, "0 of 1 replicas")
	replica.Thaw()
	thawed = true

	time.Sleep(10 * time.Millisecond) // the revocation's time must follow the logins'
	require.NoError(t, e.m.RevokeUser(ctx, "kim"))
	for i, c := range []*client{a, b} {
		_, body := c.get("/whoami")
		assert.Empty(t, body, "client %d survived log out everywhere", i)
	}
}
