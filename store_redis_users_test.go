package session_test

import (
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// TestRedisDevices runs issue 4's scenario (three devices of one user, one
// of another; revoke one, revoke the others, revoke all; the cap) and a
// revocation with a stale index, on miniredis, a real server and a cluster.
func TestRedisDevices(t *testing.T) {
	forEachRedis(t, func(t *testing.T, newClient func(t *testing.T) redis.UniversalClient) {
		newStore := func(t *testing.T) session.Store {
			return session.NewRedisStore(newClient(t), session.WithKeyPrefix(randomPrefix()))
		}
		t.Run("Scenario", func(t *testing.T) { RunDevicesScenario(t, newStore(t)) })
		t.Run("Cap", func(t *testing.T) { RunCapScenario(t, newStore) })
		t.Run("StaleIndex", func(t *testing.T) { runRedisStaleIndex(t, newClient(t)) })
	})
}

// runRedisStaleIndex deletes a user's index by hand: the device list is then
// empty, yet RevokeUser still logs the session out (the generation check).
func runRedisStaleIndex(t *testing.T, c redis.UniversalClient) {
	prefix := randomPrefix()
	e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix(prefix))}, testApp())
	erin, frank := e.client(), e.client()
	res, _ := erin.post("/login?u=erin")
	require.Equal(t, 200, res.StatusCode)
	frank.post("/login?u=frank")
	_, body := erin.get("/whoami")
	require.Equal(t, "erin", body)

	n, err := c.Del(t.Context(), prefix+"user:{erin}").Result()
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the index key is where the layout says")
	infos, err := e.m.Sessions(t.Context(), "erin")
	require.NoError(t, err)
	assert.Empty(t, infos, "the index is gone")
	_, body = erin.get("/whoami")
	require.Equal(t, "erin", body, "the session itself is alive")

	require.NoError(t, e.m.RevokeUser(t.Context(), "erin"))
	_, body = erin.get("/whoami")
	assert.Empty(t, body, "revocation must reach a session the index missed")
	_, body = frank.get("/whoami")
	assert.Equal(t, "frank", body)
	// A fresh login after the revocation works.
	erin.post("/login?u=erin")
	_, body = erin.get("/whoami")
	assert.Equal(t, "erin", body)
}

// TestRedisHandlesAreStoreKeys: a device's handle is the store key (the
// SHA-256 of the token), never the token.
func TestRedisHandlesAreStoreKeys(t *testing.T) {
	c := miniredisClient(t)
	var m *session.Manager
	e := newEnv(t, session.Config{Store: session.NewRedisStore(c)}, devicesApp(&m))
	m = e.m
	cl := e.client()
	cl.post("/login?u=gina")
	infos, err := m.Sessions(t.Context(), "gina")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.Equal(t, storeKeyOf(cl.token()), infos[0].Handle)
	assert.NotEqual(t, cl.token(), infos[0].Handle)
	res, _ := cl.get("/devices")
	assert.Equal(t, http.StatusOK, res.StatusCode)
}
