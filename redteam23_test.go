package session_test

// Red-team tests for issue 23 (one family model). Each test states the
// promise it attacks; a failing test is a break.

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
)

// rtStoreKey mirrors the package's storeKey (SHA-256, base64url).
func rtStoreKey(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// rtHeaderFamily mirrors headerFamily: the family of a header token.
func rtHeaderFamily(token string) string { return rtStoreKey("hdrfam:" + token[:24]) }

// Promise: "A revocation outlives what it revokes" and "Losing an item ends
// sessions, never keeps one alive". The cookie revocation list is a record
// in an ordinary Store (WithRevocations: "one shared by every instance").
// Its time is the record's CreatedAt, so the store's RevokeAll cutoff (a
// server-mode Manager on the same store, an admin's "log out everyone")
// makes the revocation record read as not found: every cookie it revoked
// is live again. RevokeAll is itself a revocation; it must never undo one.
func TestRedteam23CookieRevocationUndoneByRevokeAll(t *testing.T) {
	clk := newFakeClock()
	shared := session.NewMemoryStore(session.WithMemoryClockForTest(clk.Now))
	t.Cleanup(func() { _ = shared.Close() })
	cs := newCookieStore(t, newKey(t)).WithRevocations(shared)
	e := newEnv(t, session.Config{Store: cs, Clock: clk.Now}, cookieApp())
	// A server-mode Manager (another app, or the API) on the same store.
	server, err := session.New(session.Config{Store: shared, Clock: clk.Now, Logger: testLogger()})
	require.NoError(t, err)

	a := e.client()
	a.post("/login?u=kim")
	stolen := a.token()

	clk.Advance(time.Second)
	require.NoError(t, e.m.RevokeUser(context.Background(), "kim"))
	a.setToken(stolen)
	_, body := a.get("/whoami")
	require.Empty(t, body, "precondition: the revoked cookie is refused")

	clk.Advance(time.Second)
	require.NoError(t, server.RevokeAll(context.Background()))
	a.setToken(stolen)
	_, body = a.get("/whoami")
	assert.Empty(t, body, "a RevokeAll on the store that holds the revocation list made a revoked cookie live again")
}

// Promise: "Losing an item ends sessions, never keeps one alive ... nor
// hide a reuse" on a Redis Cluster. rotateSharded writes the renewed
// record and the family pointer in different slots (different masters),
// neither through the durable path: a failover of the pointer's master
// can lose the pointer write while the record's master keeps the new
// record. The renewed record is then live but out of its family's reach:
// the owner presenting the retired token gets ErrReused, yet the thief's
// token keeps rotating. The DEL of the pointer below stands for that lost
// write (the state a replica promoted before it received it holds).
func TestRedteam23ClusterLostPointerHidesReuse(t *testing.T) {
	c := sharedCluster(t)(t)
	ctx := t.Context()
	prefix := randomPrefix()
	st := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	r := httptest.NewRequest("POST", "/token", nil)

	owner := issued(t)(m.Issue(ctx, r, "victim", session.Lifetimes{Idle: time.Hour, Absolute: 24 * time.Hour}))
	thief := issued(t)(m.Rotate(ctx, r, owner.Token, 0)) // the stolen token, used first

	// The promoted replica never saw the pointer write of that renewal.
	lose := func() {
		fam := rtHeaderFamily(owner.Token)
		ptr := prefix + "{" + fam + "}:f"
		require.NoError(t, c.Del(ctx, ptr).Err())
	}
	lose()

	_, err = m.Rotate(ctx, r, owner.Token, 0)
	require.ErrorIs(t, err, session.ErrReused, "the owner's retired token is reported as reuse")
	_, err = m.Rotate(ctx, r, thief.Token, 0)
	assert.ErrorIs(t, err, session.ErrNotFound, "reuse was reported, yet the thief's session is still live")
}

// Promise: Manager.Revoke "ends one of the user's sessions" and never
// answers success while it lives (fail closed). Revoke resolves the
// handle (here: the live key itself), then ends the family; when
// EndFamily answers ErrNotFound it reports success without ending the key
// it just found live (storeCarrier.end falls back to deleting the key,
// Revoke does not). With a lost family pointer on a Cluster (see above)
// the device is reported revoked and stays logged in.
func TestRedteam23RevokeSucceedsWhileSessionLives(t *testing.T) {
	c := sharedCluster(t)(t)
	ctx := t.Context()
	prefix := randomPrefix()
	st := session.NewRedisStore(c, session.WithKeyPrefix(prefix))
	m, err := session.New(session.Config{Store: st, Logger: testLogger()})
	require.NoError(t, err)
	r := httptest.NewRequest("POST", "/token", nil)

	first := issued(t)(m.Issue(ctx, r, "dev-user", session.Lifetimes{Idle: time.Hour, Absolute: 24 * time.Hour}))
	live := issued(t)(m.Rotate(ctx, r, first.Token, 0))
	fam := rtHeaderFamily(first.Token)
	require.NoError(t, c.Del(ctx, prefix+"{"+fam+"}:f").Err())

	list, err := m.Sessions(ctx, "dev-user")
	require.NoError(t, err)
	require.Len(t, list, 1, "the device is listed")
	if err := m.Revoke(ctx, "dev-user", list[0].Handle); err != nil {
		// The store already counts the session as ended (its pointer is
		// gone): not found, never success while it lives.
		require.ErrorIs(t, err, session.ErrNotFound)
	}
	_, err = m.Rotate(ctx, r, live.Token, 0)
	assert.ErrorIs(t, err, session.ErrNotFound, "Revoke returned nil but the device's session is still live")
}
