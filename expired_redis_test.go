package session_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/sessionkit/session/internal/redistest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// byHandle returns the store expiry events of the session whose token is
// token (its handle's prefix: Redis reports no user).
func byHandle(l *eventLog, token string) []session.Event {
	want := "handle:" + storeKeyOf(token)[:8]
	var out []session.Event
	for _, e := range storeExpiries(l) {
		if e.Session == want {
			out = append(out, e)
		}
	}
	return out
}

// TestRedisStoreReportsUnseenExpiry, on a real redis-server: with
// WithExpiryNotifications, a session Redis expires is reported once, with
// the kind of its deadline and no user or device (Redis keeps none); a
// logout, a revocation and a session kept alive by its requests report
// nothing until a deadline really passes.
func TestRedisStoreReportsUnseenExpiry(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	st := session.NewRedisStore(rdb, session.WithKeyPrefix(randomPrefix()), session.WithExpiryNotifications(true))
	t.Cleanup(func() { _ = st.Close() })
	e := newEnv(t, session.Config{Store: st, IdleTimeout: 3 * time.Second, AbsoluteTimeout: 6 * time.Second}, testApp())
	require.Eventually(t, func() bool { return e.m.Ping(ctx) == nil }, 10*time.Second, 10*time.Millisecond,
		"Ping fails until the subscription is set up")
	flags, err := rdb.ConfigGet(ctx, "notify-keyspace-events").Result()
	require.NoError(t, err)
	assert.Contains(t, flags["notify-keyspace-events"], "E", "configure asked for the keyevent flags")

	login := func(user string) *client {
		c := e.client()
		res, _ := c.post("/login?u=" + user)
		require.Equal(t, 200, res.StatusCode)
		return c
	}
	idle := login("idle")
	gone := login("gone")
	goneToken := gone.token()
	res, _ := gone.post("/logout")
	require.Equal(t, 200, res.StatusCode)
	revokedToken := login("revoked").token()
	require.NoError(t, e.m.RevokeUser(ctx, "revoked"))
	active := login("active")
	activeAt := time.Now()
	idleToken, activeToken := idle.token(), active.token()

	// Polled with a deadline; each poll keeps the active session alive
	// past its idle timeout, until 1.5s before its absolute deadline: a
	// request after that deadline but before Redis expires the key would
	// end the session itself (the request form of the event, and a delete
	// Redis does not report as an expiry), which under load happens often
	// enough to make the store's report a matter of luck.
	alive := true
	keepAlive := func(until func() bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !until(); time.Sleep(100 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), what)
			if alive && time.Since(activeAt) < 4500*time.Millisecond {
				_, body := active.get("/whoami")
				alive = body == "active"
			}
		}
	}
	keepAlive(func() bool { return len(byHandle(e.events, idleToken)) > 0 }, "the idle session is reported")
	require.True(t, alive, "the active session was kept alive past the idle timeout")
	assert.Empty(t, byHandle(e.events, activeToken), "a session seen before its deadline is not reported")
	keepAlive(func() bool { return len(byHandle(e.events, activeToken)) > 0 }, "the active session is reported at its absolute deadline")
	require.NoError(t, st.Close())

	got := byHandle(e.events, idleToken)
	require.Len(t, got, 1, "reported once")
	assert.Equal(t, session.EventExpiredIdle, got[0].Kind)
	assert.Empty(t, got[0].UserID, "Redis keeps no user past the expiry")
	assert.Empty(t, got[0].TargetUserAgent)
	assert.False(t, got[0].Time.IsZero(), "dated at the deadline")
	act := byHandle(e.events, activeToken)
	require.Len(t, act, 1)
	assert.Equal(t, session.EventExpiredAbsolute, act[0].Kind)
	assert.Empty(t, byHandle(e.events, goneToken), "a logout is not an expiry")
	assert.Empty(t, byHandle(e.events, revokedToken), "a revocation is not an expiry")
	assert.Len(t, storeExpiries(e.events), 2, "%+v", storeExpiries(e.events))
}

// TestRedisExpiryNotificationsStopOnClose: Close ends the subscription's
// goroutines; without the option the store subscribes to nothing.
func TestRedisExpiryNotificationsStopOnClose(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	require.NoError(t, rdb.Ping(ctx).Err())
	channel := "__keyevent@0__:expired"
	subscribers := func() int64 {
		n, err := rdb.PubSubNumSub(ctx, channel).Result()
		require.NoError(t, err)
		return n[channel]
	}
	plain := session.NewRedisStore(rdb)
	plain.NotifyExpired(func(context.Context, session.IndexedRecord) {})
	require.NoError(t, plain.Ping(ctx))
	assert.Zero(t, subscribers(), "no subscription without the option")

	for range 5 {
		st := session.NewRedisStore(rdb, session.WithExpiryNotifications(false))
		st.NotifyExpired(func(context.Context, session.IndexedRecord) {})
		require.Eventually(t, func() bool { return st.Ping(ctx) == nil }, 10*time.Second, 10*time.Millisecond)
		require.EqualValues(t, 1, subscribers())
		require.NotEmpty(t, watchers(), "the subscription's goroutines run")
		require.NoError(t, st.Close())
		require.Eventually(t, func() bool { return subscribers() == 0 }, 10*time.Second, 10*time.Millisecond,
			"Close unsubscribes (the server sees the connection close)")
	}
	// Polled here: Eventually runs the condition in goroutines of its own.
	for deadline := time.Now().Add(5 * time.Second); watchers() != "" && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if w := watchers(); w != "" {
		t.Fatalf("goroutines of the subscription left after Close:\n%s", w)
	}
}

// watchers returns the stacks of the goroutines running the Redis
// store's expiry subscription (its own, and go-redis's for its PubSub,
// which nothing else in this package uses): counting every goroutine would
// also count those of other tests' clients winding down.
func watchers() string {
	buf := make([]byte, 4<<20)
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "internal/redisstore.(*Store)") || strings.Contains(g, "redis/v9.(*channel)") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// TestRedisExpiryNotificationsWithoutConfig: without configure, a server
// whose notify-keyspace-events lacks the flags is left alone.
func TestRedisExpiryNotificationsWithoutConfig(t *testing.T) {
	srv := redistest.StartServer(t)
	rdb := srv.Client(t)
	ctx := context.Background()
	st := session.NewRedisStore(rdb, session.WithExpiryNotifications(false))
	t.Cleanup(func() { _ = st.Close() })
	st.NotifyExpired(func(context.Context, session.IndexedRecord) {})
	require.Eventually(t, func() bool { return st.Ping(ctx) == nil }, 10*time.Second, 10*time.Millisecond)
	flags, err := rdb.ConfigGet(ctx, "notify-keyspace-events").Result()
	require.NoError(t, err)
	assert.False(t, strings.Contains(flags["notify-keyspace-events"], "x"), "CONFIG SET only when asked")
}

// TestRedisClusterReportsUnseenExpiry: on a Redis Cluster, the store
// subscribes on every master, so sessions expiring in any slot are
// reported.
func TestRedisClusterReportsUnseenExpiry(t *testing.T) {
	cl := redistest.StartCluster(t)
	ctx := context.Background()
	st := session.NewRedisStore(cl.Client(t), session.WithKeyPrefix(randomPrefix()), session.WithExpiryNotifications(true))
	t.Cleanup(func() { _ = st.Close() })
	e := newEnv(t, session.Config{Store: st, IdleTimeout: time.Second}, testApp())
	require.Eventually(t, func() bool { return e.m.Ping(ctx) == nil }, 10*time.Second, 10*time.Millisecond)
	var tokens []string
	for range 12 { // spread over the masters' slots
		c := e.client()
		res, _ := c.post("/set?k=a&v=1")
		require.Equal(t, 200, res.StatusCode)
		tokens = append(tokens, c.token())
	}
	require.Eventually(t, func() bool {
		for _, tok := range tokens {
			if len(byHandle(e.events, tok)) == 0 {
				return false
			}
		}
		return true
	}, 20*time.Second, 50*time.Millisecond, "every session is reported, whichever master holds it")
	require.NoError(t, st.Close())
	for _, tok := range tokens {
		assert.Len(t, byHandle(e.events, tok), 1)
	}
}
