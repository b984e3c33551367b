package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/testkit"
)

// revocationList is a revocation store that counts Loads and fails them on demand.
type revocationList struct {
	session.Store
	loads atomic.Int64
	fail  atomic.Bool
}

func (s *revocationList) Load(ctx context.Context, key string) (*session.Record, error) {
	s.loads.Add(1)
	if s.fail.Load() {
		return nil, fmt.Errorf("revocations down: %w", session.ErrStore)
	}
	return s.Store.Load(ctx, key)
}

func revokedEvents(evs []session.Event) int {
	n := 0
	for _, e := range evs {
		if e.Kind == session.EventRejected && e.Reason == "revoked" {
			n++
		}
	}
	return n
}

// With a revocation list, log out everywhere works on a cookie store: every
// cookie of the user sealed before it is refused, on memory and on Redis.
func TestCookieStoreRevokeUser(t *testing.T) {
	for name, newList := range map[string]func(t *testing.T, clk *fakeClock) session.Store{
		"Memory": func(t *testing.T, clk *fakeClock) session.Store {
			st := session.NewMemoryStore(session.WithMemoryClockForTest(clk.Now))
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
		"Miniredis": func(t *testing.T, _ *fakeClock) session.Store {
			return session.NewRedisStore(miniredisClient(t), session.WithKeyPrefix(randomPrefix()))
		},
		"Redis": func(t *testing.T, _ *fakeClock) session.Store {
			return session.NewRedisStore(sharedServer(t)(t), session.WithKeyPrefix(randomPrefix()))
		},
	} {
		t.Run(name, func(t *testing.T) {
			clk := newFakeClock()
			cs := newCookieStore(t, newKey(t)).WithRevocations(newList(t, clk))
			e := newEnv(t, session.Config{Store: cs, Clock: clk.Now}, cookieApp())
			a, b, other := e.client(), e.client(), e.client()
			a.post("/login?u=kim")
			b.post("/login?u=kim")
			other.post("/login?u=lee")
			stolen := a.token()

			clk.Advance(time.Second)
			require.NoError(t, e.m.RevokeUser(context.Background(), "kim"))
			assert.Contains(t, e.events.kinds(), session.EventRevoked)
			for i, c := range []*client{a, b} {
				res, body := c.get("/whoami")
				assert.Empty(t, body, "client %d survived log out everywhere", i)
				if ck := sessionCookie(res); assert.NotNil(t, ck) {
					assert.Equal(t, -1, ck.MaxAge)
				}
			}
			assert.Equal(t, 2, revokedEvents(e.events.all()))
			_, body := other.get("/whoami")
			assert.Equal(t, "lee", body, "another user was logged out")
			a.setToken(stolen)
			_, body = a.get("/whoami")
			assert.Empty(t, body, "a copy of a revoked cookie still works")

			clk.Advance(time.Second)
			a.post("/login?u=kim")
			_, body = a.get("/whoami")
			assert.Equal(t, "kim", body, "a login after the revocation is refused")
		})
	}
}

func TestCookieStoreRevokeOthers(t *testing.T) {
	clk := newFakeClock()
	list := session.NewMemoryStore(session.WithMemoryClockForTest(clk.Now))
	t.Cleanup(func() { _ = list.Close() })
	var revokeErr error
	app := cookieApp()
	app.HandleFunc("POST /others", func(w http.ResponseWriter, r *http.Request) {
		revokeErr = session.FromContext(r.Context()).RevokeOthers(r.Context())
	})
	cs := newCookieStore(t, newKey(t)).WithRevocations(list)
	e := newEnv(t, session.Config{Store: cs, Clock: clk.Now}, app)
	a, b := e.client(), e.client()
	a.post("/login?u=max")
	a.post("/set?k=v&v=kept")
	b.post("/login?u=max")
	_, before := a.get("/handle")

	clk.Advance(time.Second)
	res, _ := a.post("/others")
	require.NoError(t, revokeErr)
	require.NotNil(t, sessionCookie(res), "the kept session needs its re-stamped cookie")
	_, body := b.get("/whoami")
	assert.Empty(t, body, "the other session survived")
	_, body = a.get("/whoami")
	assert.Equal(t, "max", body, "RevokeOthers ended this session too")
	_, body = a.get("/get?k=v")
	assert.Equal(t, "kept", body)
	_, after := a.get("/handle")
	assert.NotEqual(t, before, after, "RevokeOthers keeps the ID")

	// Sessions and Revoke stay unsupported: nothing lists the sessions.
	_, err := e.m.Sessions(context.Background(), "max")
	assert.ErrorIs(t, err, errors.ErrUnsupported)
}

// The list costs one read per logged-in request and none for anonymous
// ones; when it fails, a logged-in request is the error handler's 5xx,
// never a session that escaped its revocation.
func TestCookieStoreRevocationListCostAndFailure(t *testing.T) {
	list := &revocationList{Store: session.NewRedisStore(miniredisClient(t))}
	cs := newCookieStore(t, newKey(t)).WithRevocations(list)
	e := newEnv(t, session.Config{Store: cs}, cookieApp())
	anon, user := e.client(), e.client()
	anon.post("/set?k=a&v=1")
	user.post("/login?u=ned")

	n := list.loads.Load()
	anon.get("/get?k=a")
	assert.Equal(t, n, list.loads.Load(), "an anonymous request read the revocation list")
	user.get("/whoami")
	assert.Equal(t, n+1, list.loads.Load(), "a logged-in request reads the list once")

	list.fail.Store(true)
	res, _ := user.get("/whoami")
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Contains(t, e.events.kinds(), session.EventStoreError)
	_, body := anon.get("/get?k=a")
	assert.Equal(t, "1", body, "anonymous sessions need no list")
	list.fail.Store(false)
	_, body = user.get("/whoami")
	assert.Equal(t, "ned", body)
}

// A revocation outlives every cookie it can revoke: a remembered cookie
// lives up to Remember.AbsoluteTimeout, far past the normal absolute
// timeout, and a copy taken before "log out everywhere" must stay dead for
// all of it. The Manager and the revocation list share one clock.
func TestCookieStoreRevocationOutlivesRememberedCookies(t *testing.T) {
	clk := newFakeClock()
	list := session.NewMemoryStore(session.WithMemoryClockForTest(clk.Now))
	t.Cleanup(func() { _ = list.Close() })
	cs := newCookieStore(t, newKey(t)).WithRevocations(list)
	var e *env
	e = newEnv(t, session.Config{Store: cs, Clock: clk.Now, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 8 * time.Hour,
		Remember: session.RememberConfig{IdleTimeout: 30 * 24 * time.Hour, AbsoluteTimeout: 30 * 24 * time.Hour}},
		rememberApp(func() *session.Manager { return e.m }))
	c := e.client()
	res, _ := c.post("/login-remember?u=kim")
	require.Equal(t, http.StatusOK, res.StatusCode)
	stolen := c.token()

	clk.Advance(time.Second)
	require.NoError(t, e.m.RevokeUser(context.Background(), "kim"))
	for _, after := range []time.Duration{time.Minute, 9 * time.Hour, 29 * 24 * time.Hour} {
		clk.Advance(after)
		c.setToken(stolen)
		_, body := c.get("/whoami")
		assert.Empty(t, body, "a remembered cookie stolen before the revocation works again after %v", after)
	}
}

// On Redis the revocation time is kept in milliseconds: a login in the same
// millisecond before RevokeUser is revoked all the same (times compare at
// one resolution, rounding towards revoking), and the session RevokeOthers
// keeps, re-stamped in that millisecond, stays live.
func TestCookieStoreRevocationSameMillisecond(t *testing.T) {
	clk := testkit.NewClock(time.Now().Truncate(time.Millisecond).Add(300 * time.Microsecond))
	list := session.NewRedisStore(miniredisClient(t), session.WithKeyPrefix(randomPrefix()))
	app := cookieApp()
	var revokeErr error
	app.HandleFunc("POST /others", func(w http.ResponseWriter, r *http.Request) {
		revokeErr = session.FromContext(r.Context()).RevokeOthers(r.Context())
	})
	e := newEnv(t, session.Config{Store: newCookieStore(t, newKey(t)).WithRevocations(list), Clock: clk.Now}, app)
	a, b := e.client(), e.client()
	a.post("/login?u=kim")
	clk.Advance(100 * time.Microsecond)
	require.NoError(t, e.m.RevokeUser(context.Background(), "kim"))
	_, body := a.get("/whoami")
	assert.Empty(t, body, "a login in the revocation's millisecond survived it")

	clk.Advance(time.Second)
	a.post("/login?u=kim")
	b.post("/login?u=kim")
	clk.Advance(100 * time.Microsecond)
	a.post("/others")
	require.NoError(t, revokeErr)
	_, body = a.get("/whoami")
	assert.Equal(t, "kim", body, "RevokeOthers revoked the session it keeps")
	_, body = b.get("/whoami")
	assert.Empty(t, body, "RevokeOthers left another session of the same millisecond")
}

// A MemoryStore as the revocation list runs on the Manager's clock, as the
// Manager's own store does, and keeps a revocation for the longest a
// session lives (here the remembered 30 days), not one absolute timeout.
func TestCookieStoreRevocationListOnTheManagersClock(t *testing.T) {
	clk := newFakeClock()
	list := session.NewMemoryStore(session.WithSweepInterval(0))
	t.Cleanup(func() { _ = list.Close() })
	m, err := session.New(session.Config{Store: newCookieStore(t, newKey(t)).WithRevocations(list), Clock: clk.Now})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, m.RevokeUser(ctx, "kim"))
	key := session.RevocationKeyForTest("kim")
	clk.Advance(30 * 24 * time.Hour)
	_, err = list.Load(ctx, key)
	require.NoError(t, err, "the revocation went before a remembered cookie it revokes")
	clk.Advance(2 * time.Hour)
	_, err = list.Load(ctx, key)
	require.ErrorIs(t, err, session.ErrNotFound, "the list does not run on the Manager's clock")
}

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
