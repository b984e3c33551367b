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
