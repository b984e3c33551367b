package session_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/sessionkit/session/storetest"
)

// TestRedisLogoutFailsClosed pauses a real redis-server longer than the
// client's read timeout (CLIENT PAUSE), and fails every command on
// miniredis: a logout then answers with the error handler, never 200 while
// the record lives, and once the server is back the logout works.
func TestRedisLogoutFailsClosed(t *testing.T) {
	t.Run("ServerPaused", func(t *testing.T) {
		srv := redistest.StartServer(t)
		admin := srv.Client(t)
		for _, mode := range []string{"ALL", "WRITE"} {
			c := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: 200 * time.Millisecond, MaxRetries: -1})
			t.Cleanup(func() { _ = c.Close() })
			e := newEnv(t, session.Config{Store: session.NewRedisStore(c, session.WithKeyPrefix(randomPrefix()))}, testApp())
			cl := e.client()
			res, _ := cl.post("/login?u=paused")
			require.Equal(t, 200, res.StatusCode)
			tok := cl.token()
			require.NoError(t, admin.Do(context.Background(), "CLIENT", "PAUSE", 1000, mode).Err())
			res, _ = cl.post("/logout")
			assert.Equal(t, 500, res.StatusCode, "CLIENT PAUSE %s: a logout that could not delete answered %d", mode, res.StatusCode)
			require.NoError(t, admin.Do(context.Background(), "CLIENT", "UNPAUSE").Err())
			assert.Contains(t, e.events.kinds(), session.EventStoreError)
			res, _ = cl.post("/logout")
			require.Equal(t, 200, res.StatusCode)
			probe := e.client()
			probe.setToken(tok)
			_, body := probe.get("/whoami")
			assert.Empty(t, body, "CLIENT PAUSE %s: the session outlived the logout", mode)
		}
	})
	t.Run("MiniredisErrors", func(t *testing.T) {
		mr := startMiniredis(t)
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		e := newEnv(t, session.Config{Store: session.NewRedisStore(c)}, testApp())
		cl := e.client()
		res, _ := cl.post("/login?u=broken")
		require.Equal(t, 200, res.StatusCode)
		mr.SetError("ERR injected")
		res, _ = cl.post("/logout")
		assert.Equal(t, 500, res.StatusCode)
		mr.SetError("")
		_, body := cl.get("/whoami")
		assert.Equal(t, "broken", body, "the failed logout must not have expired the cookie")
	})
}

// TestRedisOutage kills the real server mid-test: requests that need the
// session fail with the error handler's generic 500, nothing panics and no
// goroutines pile up; after a restart on the same port the same Manager and
// client work again.
func TestRedisOutage(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{
		Addr: srv.Addr, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond,
		MaxRetries: 1,
	})
	t.Cleanup(func() { _ = c.Close() })
	e := newEnv(t, session.Config{Store: session.NewRedisStore(c)}, testApp())
	cl := e.client()
	res, _ := cl.post("/login?u=outage")
	require.Equal(t, 200, res.StatusCode)
	token := cl.token()
	require.NotEmpty(t, token)
	_, body := cl.get("/whoami")
	require.Equal(t, "outage", body)
	others := make([]*client, 8)
	for i := range others {
		others[i] = e.client()
		res, _ := others[i].post("/login?u=outage")
		require.Equal(t, 200, res.StatusCode)
	}
	runtime.GC()
	before := runtime.NumGoroutine()

	srv.Kill()
	var wg sync.WaitGroup
	for _, o := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				res, body := o.get("/whoami")
				assert.Equal(t, 500, res.StatusCode)
				assert.Equal(t, "Internal Server Error\n", body)
			}
		}()
	}
	wg.Wait()
	for _, req := range [][2]string{{"GET", "/get?k=a"}, {"POST", "/inc"}} {
		res, body := cl.do(req[0], req[1], nil)
		assert.Equal(t, 500, res.StatusCode, req[1])
		assert.Equal(t, "Internal Server Error\n", body, "generic body, no detail")
		assert.NotContains(t, body, token)
		assert.Empty(t, res.Header.Values("Set-Cookie"), "no cookie change during an outage")
	}
	// A new visitor's first write cannot be stored: no 2xx.
	res, body = e.client().post("/set?k=a&v=1")
	assert.Equal(t, 500, res.StatusCode)
	assert.Equal(t, "Internal Server Error\n", body)
	// Requests that never touch the session are unaffected.
	res, _ = cl.get("/noop")
	assert.Equal(t, 200, res.StatusCode)

	assert.Eventually(t, func() bool {
		return runtime.NumGoroutine() <= before+5
	}, 5*time.Second, 50*time.Millisecond, "goroutines piled up: %d before, %d after", before, runtime.NumGoroutine())

	srv.Restart() // same port, empty (nothing persisted)
	// go-redis backs off dialing for up to a second after failures; within
	// a few seconds a login (several commands and scripts) goes through.
	require.Eventually(t, func() bool {
		res, _ := cl.post("/login?u=outage")
		return res.StatusCode == 200
	}, 5*time.Second, 50*time.Millisecond, "requests do not recover after Redis is back")
	_, body = cl.get("/whoami")
	assert.Equal(t, "outage", body)
	res, body = cl.post("/inc")
	assert.Equal(t, 200, res.StatusCode)
	assert.Equal(t, "1", body)
}

// TestRedisOutageIsNeverNotFound: while Redis is down, and while the client
// is still backing off after it came back, the store reports ErrStore, never
// ErrNotFound (which would log the user out).
func TestRedisOutageIsNeverNotFound(t *testing.T) {
	srv := redistest.StartServer(t)
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, DialTimeout: 100 * time.Millisecond, MaxRetries: -1, PoolSize: 2})
	t.Cleanup(func() { _ = c.Close() })
	ctx := t.Context()
	s := session.NewRedisStore(c)
	k := storetest.Key()
	r := storetest.Record(time.Hour, map[string][]byte{"a": []byte("1")})
	r.UserID = "u"
	require.NoError(t, s.Create(ctx, k, r))
	list := func() error { _, err := s.UserSessions(ctx, "u"); return err }
	load := func() error { _, err := s.Load(ctx, k); return err }
	update := func() error { return s.Update(ctx, k, &session.Delta{Set: map[string][]byte{"b": []byte("2")}}) }
	touch := func() error {
		return s.Update(ctx, k, &session.Delta{LastSeen: time.Now(), Expires: r.Expires.Add(time.Minute)})
	}

	srv.Kill()
	for range 10 { // enough dial failures to put the pool into back-off
		for name, op := range map[string]func() error{"load": load, "list": list, "update": update, "touch": touch} {
			err := op()
			require.ErrorIs(t, err, session.ErrStore, name)
			require.NotErrorIs(t, err, session.ErrNotFound, name)
		}
	}
	srv.Restart()
	require.NoError(t, session.NewRedisStore(srv.Client(t)).Create(ctx, k, r)) // the record is back
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := load()
		require.NotErrorIs(t, err, session.ErrNotFound, "an outage must not look like a missing session")
		if err == nil {
			break
		}
		require.ErrorIs(t, err, session.ErrStore)
		require.True(t, time.Now().Before(deadline), "the store did not recover: %v", err)
		time.Sleep(10 * time.Millisecond)
	}
	got, err := s.UserSessions(ctx, "u")
	require.NoError(t, err)
	assert.Len(t, got, 1)
}

// TestRedisCorruptDataIsAnError: bad data in Redis is ErrStore on Load,
// never a panic and never a silently wrong record; UserSessions leaves such
// a record out of the list.
func TestRedisCorruptDataIsAnError(t *testing.T) {
	c := miniredisClient(t)
	ctx := t.Context()
	s := session.NewRedisStore(c)
	for field, bad := range map[string]string{
		"created": "yesterday", "exp": "", "gen": "-1", "idle": "1.5", "persist": "yes", "seen": "9x",
	} {
		k := storetest.Key()
		r := storetest.Record(time.Minute, nil)
		r.UserID = "u"
		require.NoError(t, s.Create(ctx, k, r))
		require.NoError(t, c.HSet(ctx, "session:{"+k+"}", field, bad).Err())
		_, err := s.Load(ctx, k)
		assert.ErrorIs(t, err, session.ErrStore, "field %s", field)
		assert.NotErrorIs(t, err, session.ErrNotFound, "field %s", field)
		// The devices list survives it (issue 26; TestCorruptRecordDoesNotBreakDevicesList):
		// the record is left out, not passed off as a session.
		got, err := s.UserSessions(ctx, "u")
		assert.NoError(t, err, "field %s", field)
		assert.Empty(t, got, "field %s", field)
		require.NoError(t, s.Delete(ctx, k))
	}

	k := storetest.Key()
	require.NoError(t, s.Create(ctx, k, storetest.Record(time.Minute, nil)))
	require.NoError(t, c.HDel(ctx, "session:{"+k+"}", "exp").Err())
	_, err := s.Load(ctx, k)
	assert.ErrorIs(t, err, session.ErrStore, "a record without expiry")

	// A corrupt generation.
	k = storetest.Key()
	r := storetest.Record(time.Minute, nil)
	r.UserID = "v"
	require.NoError(t, c.Set(ctx, "session:gen:{v}", "many", time.Minute).Err())
	assert.ErrorIs(t, s.Create(ctx, k, r), session.ErrStore)
	assert.ErrorIs(t, s.RevokeUser(ctx, "v"), session.ErrStore)

	// A key of the wrong type.
	require.NoError(t, c.Set(ctx, "session:{"+k+"}", "x", time.Minute).Err())
	_, err = s.Load(ctx, k)
	assert.ErrorIs(t, err, session.ErrStore)
	assert.ErrorIs(t, s.Update(ctx, k, &session.Delta{Set: map[string][]byte{"a": nil}}), session.ErrStore)

	// A corrupt RevokeAll cutoff: every load is a store error (fail
	// closed), never a live session nor a panic.
	k = storetest.Key()
	require.NoError(t, s.Create(ctx, k, storetest.Record(time.Minute, nil)))
	require.NoError(t, c.Set(ctx, "session:all", "soon", time.Minute).Err())
	_, err = s.Load(ctx, k)
	assert.ErrorIs(t, err, session.ErrStore, "a corrupt RevokeAll cutoff")
	assert.NotErrorIs(t, err, session.ErrNotFound)
}

// TestRedisErrorsAreWrapped: a Redis error is ErrStore (not ErrNotFound), and
// a context that ends before the call is reported as such.
func TestRedisErrorsAreWrapped(t *testing.T) {
	mr := startMiniredis(t)
	c := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	s := session.NewRedisStore(c)
	k := storetest.Key()
	require.NoError(t, s.Create(t.Context(), k, storetest.Record(time.Minute, nil)))
	mr.SetError("ERR injected failure")
	_, err := s.Load(t.Context(), k)
	assert.ErrorIs(t, err, session.ErrStore)
	assert.NotErrorIs(t, err, session.ErrNotFound)
	mr.SetError("")

	ctx, cancel := context.WithTimeout(t.Context(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err = s.Load(ctx, k)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}
