package session_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeExpiries returns the events of sessions a store dropped for expiry
// (Reason "expired"), as opposed to an expired cookie coming back.
func storeExpiries(l *eventLog) []session.Event {
	var out []session.Event
	for _, e := range l.all() {
		if e.Reason == "expired" {
			out = append(out, e)
		}
	}
	return out
}

// expiryOf returns the store expiry events of userID.
func expiryOf(l *eventLog, userID string) []session.Event {
	var out []session.Event
	for _, e := range storeExpiries(l) {
		if e.UserID == userID {
			out = append(out, e)
		}
	}
	return out
}

// TestMemoryStoreReportsUnseenExpiry: a session nobody comes back for is
// reported once by the memory store's sweeper, with the kind of the
// deadline that passed, its user and its recorded device; a logout, a
// revocation and a session kept alive by its requests report nothing.
func TestMemoryStoreReportsUnseenExpiry(t *testing.T) {
	clk := newFakeClock()
	store := session.NewMemoryStore(session.WithSweepInterval(256 * time.Millisecond))
	t.Cleanup(func() { _ = store.Close() })
	e := newEnv(t, session.Config{Store: store, Clock: clk.Now, IdleTimeout: time.Hour, AbsoluteTimeout: 2 * time.Hour}, testApp())
	login := func(user, ua string) *client {
		c := e.client()
		c.ua = ua
		res, _ := c.post("/login?u=" + user)
		require.Equal(t, 200, res.StatusCode)
		return c
	}
	t0 := clk.Now()
	login("idle", "idle-device/1.0")
	gone := login("gone", "gone-device")
	res, _ := gone.post("/logout")
	require.Equal(t, 200, res.StatusCode)
	login("revoked", "revoked-device")
	require.NoError(t, e.m.RevokeUser(context.Background(), "revoked"))
	active := login("active", "active-device")

	clk.Advance(40 * time.Minute)
	_, body := active.get("/whoami")
	require.Equal(t, "active", body)
	clk.Advance(40 * time.Minute) // idle: 80 minutes unseen, past its hour
	require.Eventually(t, func() bool { return len(expiryOf(e.events, "idle")) > 0 }, 10*time.Second, 10*time.Millisecond,
		"the sweeper reports the idle session")
	_, body = active.get("/whoami")
	require.Equal(t, "active", body, "the session kept alive was not dropped")
	assert.Empty(t, expiryOf(e.events, "active"), "a session seen before its deadline is not reported")

	clk.Advance(40 * time.Minute) // active: two hours since its login
	require.Eventually(t, func() bool { return len(expiryOf(e.events, "active")) > 0 }, 10*time.Second, 10*time.Millisecond,
		"the sweeper reports the session past its absolute deadline")
	require.NoError(t, store.Close()) // the sweeper has stopped: no event can follow

	got := storeExpiries(e.events)
	require.Len(t, got, 2, "one event per session dropped for expiry, none for the logout or the revocation: %+v", got)
	idle := expiryOf(e.events, "idle")[0]
	assert.Equal(t, session.EventExpiredIdle, idle.Kind)
	assert.Equal(t, "idle-device/1.0", idle.TargetUserAgent)
	assert.Equal(t, "127.0.0.1", idle.TargetIP)
	assert.Empty(t, idle.IP, "no request acted")
	assert.Empty(t, idle.UserAgent, "no request acted")
	assert.Regexp(t, `^handle:[A-Za-z0-9_-]{8}$`, idle.Session)
	assert.WithinDuration(t, t0.Add(time.Hour), idle.Time, time.Millisecond, "dated at the deadline that passed")
	act := expiryOf(e.events, "active")[0]
	assert.Equal(t, session.EventExpiredAbsolute, act.Kind)
	assert.Equal(t, "active-device", act.TargetUserAgent)
}

// TestExpiryNotifierThroughWrappers: a Manager on a wrapped memory store
// (SealValues) still gets the store's expiry reports.
func TestExpiryNotifierThroughWrappers(t *testing.T) {
	clk := newFakeClock()
	mem := session.NewMemoryStore(session.WithSweepInterval(256 * time.Millisecond))
	t.Cleanup(func() { _ = mem.Close() })
	sealed, err := session.SealValues(mem, make([]byte, 32))
	require.NoError(t, err)
	_, ok := sealed.(session.ExpiryNotifier)
	require.True(t, ok, "SealValues forwards ExpiryNotifier")
	e := newEnv(t, session.Config{Store: sealed, Clock: clk.Now, IdleTimeout: time.Hour}, testApp())
	c := e.client()
	res, _ := c.post("/login?u=wrapped")
	require.Equal(t, 200, res.StatusCode)
	clk.Advance(2 * time.Hour)
	require.Eventually(t, func() bool { return len(expiryOf(e.events, "wrapped")) == 1 }, 10*time.Second, 10*time.Millisecond)
}

// TestStoreExpiryOfAnonymousSessionIsQuiet: a store-reported expiry of an
// anonymous session reaches OnEvent but is logged at DEBUG (routine
// traffic, like its creation); a logged-in user's is logged at INFO.
func TestStoreExpiryOfAnonymousSessionIsQuiet(t *testing.T) {
	var logs lockedBuffer
	clk := newFakeClock()
	store := session.NewMemoryStore(session.WithSweepInterval(256 * time.Millisecond))
	t.Cleanup(func() { _ = store.Close() })
	e := newEnv(t, session.Config{Store: store, Clock: clk.Now, IdleTimeout: time.Hour,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}, testApp())
	res, _ := e.client().post("/set?k=a&v=1")
	require.Equal(t, 200, res.StatusCode)
	res, _ = e.client().post("/login?u=known")
	require.Equal(t, 200, res.StatusCode)
	clk.Advance(2 * time.Hour)
	require.Eventually(t, func() bool { return len(storeExpiries(e.events)) == 2 }, 10*time.Second, 10*time.Millisecond,
		"both expiries reach OnEvent")
	require.NoError(t, store.Close())
	assert.Len(t, expiryOf(e.events, ""), 1)
	assert.Equal(t, 1, strings.Count(logs.String(), session.EventExpiredIdle), "only the logged-in user's is logged at INFO:\n%s", logs.String())
	assert.Contains(t, logs.String(), "user=known")
}
