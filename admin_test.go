package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// TestRevokeAll: every session (two users on two devices, an anonymous
// one with a value) ends at once; each is then anonymous with its cookie
// expired, an event says so, and a login afterwards works. CountSessions
// counts the live ones. On every backend.
func TestRevokeAll(t *testing.T) {
	lifecycleStores(t, func(t *testing.T, sc storeCase) {
		e, _ := lifecycleEnv(t, sc, session.Config{})
		ctx := context.Background()
		var clients []*client
		for _, u := range []string{"ann", "ann", "bob"} {
			c := e.client()
			res, _ := c.post("/login?u=" + u)
			require.Equal(t, 200, res.StatusCode)
			clients = append(clients, c)
		}
		anon := e.client()
		res, _ := anon.post("/set?k=cart&v=3")
		require.Equal(t, 200, res.StatusCode)
		clients = append(clients, anon)
		n, err := e.m.CountSessions(ctx)
		require.NoError(t, err)
		assert.Equal(t, 4, n)

		require.NoError(t, e.m.RevokeAll(ctx))
		assert.Contains(t, e.events.kinds(), session.EventRevoked)
		for i, c := range clients {
			res, body := c.get("/get?k=cart")
			assert.Equal(t, 200, res.StatusCode)
			assert.Empty(t, body, "client %d: a session created before RevokeAll lives", i)
			ck := sessionCookie(res)
			require.NotNil(t, ck, "client %d: the ended session's cookie must be expired", i)
			assert.Equal(t, -1, ck.MaxAge)
			_, who := c.get("/whoami")
			assert.Empty(t, who)
		}
		c := e.client()
		res, _ = c.post("/login?u=ann")
		require.Equal(t, 200, res.StatusCode)
		_, who := c.get("/whoami")
		assert.Equal(t, "ann", who, "a login after RevokeAll must live")
	})
}

// TestRevokeAllUnsupported: a store without Fleet is an error wrapping
// errors.ErrUnsupported, not a silent no-op.
func TestRevokeAllUnsupported(t *testing.T) {
	e := newEnv(t, session.Config{Store: plainStore{session.NewMemoryStore()}}, http.NewServeMux())
	err := e.m.RevokeAll(context.Background())
	require.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
	_, err = e.m.CountSessions(context.Background())
	require.True(t, errors.Is(err, errors.ErrUnsupported), "%v", err)
}

// TestRevokeAllDuringRenewal: a RevokeAll landing between a renewal's load
// and its store step (the hook) ends the renewed session too: it keeps its
// creation time, which is before the cutoff.
func TestRevokeAllDuringRenewal(t *testing.T) {
	lifecycleStores(t, func(t *testing.T, sc storeCase) {
		e, h := lifecycleEnv(t, sc, session.Config{})
		c := e.client()
		res, _ := c.post("/login?u=ann")
		require.Equal(t, 200, res.StatusCode)
		h.onRotate(func(*session.Rotation) { // runs once
			require.NoError(t, e.m.RevokeAll(context.Background()))
		})
		c.post("/renew")
		_, who := c.get("/whoami")
		assert.Empty(t, who, "the session renewed across RevokeAll lives")
	})
}

// TestRevokeAllEndsHeaderSessions: RevokeAll ends refresh families too: a
// rotation of a token issued before it fails (on Redis, the one-script
// refresh checks the cutoff itself), and one issued after it works.
func TestRevokeAllEndsHeaderSessions(t *testing.T) {
	lifecycleStores(t, func(t *testing.T, sc storeCase) {
		e, _ := lifecycleEnv(t, sc, session.Config{})
		ctx := context.Background()
		r := httptest.NewRequest("POST", "https://api.test/token", nil)
		lt := session.Lifetimes{Idle: time.Hour, Absolute: 24 * time.Hour}
		before, err := e.m.Issue(ctx, r, "ann", lt)
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond) // the cutoff falls after the issue
		require.NoError(t, e.m.RevokeAll(ctx))
		time.Sleep(2 * time.Millisecond)
		_, err = e.m.Rotate(ctx, r, before.Token, 0)
		require.ErrorIs(t, err, session.ErrNotFound, "a family issued before RevokeAll refreshed")
		after, err := e.m.Issue(ctx, r, "ann", lt)
		require.NoError(t, err)
		_, err = e.m.Rotate(ctx, r, after.Token, 0)
		require.NoError(t, err, "a family issued after RevokeAll must refresh")
	})
}

// failFleet is a memory store whose RevokeAll and Count fail.
type failFleet struct{ *session.MemoryStore }

func (f failFleet) RevokeAll(context.Context, time.Time) error { return errInjected }
func (f failFleet) Count(context.Context) (int, error)         { return 0, errInjected }
func (f failFleet) Unwrap() session.Store                      { return f.MemoryStore }

// TestRevokeAllStoreFailure: a RevokeAll the store failed is an error
// wrapping ErrStore with a store-error event, never a "revoked" event for
// sessions that still live.
func TestRevokeAllStoreFailure(t *testing.T) {
	ms := session.NewMemoryStore()
	t.Cleanup(func() { _ = ms.Close() })
	e := newEnv(t, session.Config{Store: failFleet{ms}}, testApp())
	c := e.client()
	res, _ := c.post("/login?u=ann")
	require.Equal(t, 200, res.StatusCode)
	err := e.m.RevokeAll(context.Background())
	require.ErrorIs(t, err, session.ErrStore)
	_, err = e.m.CountSessions(context.Background())
	require.ErrorIs(t, err, session.ErrStore)
	assert.Contains(t, e.events.kinds(), session.EventStoreError)
	assert.NotContains(t, e.events.kinds(), session.EventRevoked)
	_, who := c.get("/whoami")
	assert.Equal(t, "ann", who)
}
